using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SharpTune.Gguf;

/// <summary>bfloat16: the top 16 bits of a float32, rounded to nearest even; NaNs stay quiet NaNs (ggml's rule).</summary>
public sealed class Bf16Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.BF16;
    public override int BlockElements => 1;
    public override int BlockBytes => 2;

    public static ushort FromFloat(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffff) > 0x7f800000)
        {
            return (ushort)((u >> 16) | 64);
        }

        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    public static float ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public override void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckSizes(source.Length, destination.Length);
        var bits = MemoryMarshal.Cast<byte, ushort>(destination);
        for (int i = 0; i < source.Length; i++)
        {
            bits[i] = FromFloat(source[i]);
        }
    }

    public override void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckSizes(destination.Length, source.Length);
        var bits = MemoryMarshal.Cast<byte, ushort>(source);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = ToFloat(bits[i]);
        }
    }

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block) => BinaryPrimitives.WriteUInt16LittleEndian(block, FromFloat(x[0]));

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y) => y[0] = ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(block));
}
