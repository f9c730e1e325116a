using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SharpTune.Gguf;

/// <summary>Plain little-endian float32.</summary>
public sealed class F32Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.F32;
    public override int BlockElements => 1;
    public override int BlockBytes => 4;

    public override void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckSizes(source.Length, destination.Length);
        MemoryMarshal.AsBytes(source).CopyTo(destination);
    }

    public override void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckSizes(destination.Length, source.Length);
        source.CopyTo(MemoryMarshal.AsBytes(destination));
    }

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block) => BinaryPrimitives.WriteSingleLittleEndian(block, x[0]);

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y) => y[0] = BinaryPrimitives.ReadSingleLittleEndian(block);
}
