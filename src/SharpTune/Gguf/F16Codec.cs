using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SharpTune.Gguf;

/// <summary>IEEE half precision, rounded to nearest even (as ggml's and numpy's conversions).</summary>
public sealed class F16Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.F16;
    public override int BlockElements => 1;
    public override int BlockBytes => 2;

    public override void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckSizes(source.Length, destination.Length);
        var halves = MemoryMarshal.Cast<byte, Half>(destination);
        for (int i = 0; i < source.Length; i++)
        {
            halves[i] = (Half)source[i];
        }
    }

    public override void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckSizes(destination.Length, source.Length);
        var halves = MemoryMarshal.Cast<byte, Half>(source);
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)halves[i];
        }
    }

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block) => BinaryPrimitives.WriteHalfLittleEndian(block, (Half)x[0]);

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y) => y[0] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
}
