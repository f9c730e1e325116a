using SharpTune.Kernels.Nf4;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// A weight matrix in bitsandbytes' NF4 layout: the row-major weight split into blocks of <see cref="BlockSize"/>
/// values, each block stored as 4-bit indices into <see cref="Nf4CodeBook"/> (two per byte, the first value of a
/// pair in the high nibble) plus its absmax. With double quantization the absmax values are themselves stored as
/// 8-bit dynamic codes in blocks of 256, after subtracting their mean (<see cref="AbsmaxOffset"/>), as
/// bitsandbytes' <c>compress_statistics=True</c> does. Owns its tensors (they are
/// detached from dispose scopes and live until <see cref="Dispose"/>).
/// </summary>
public sealed class Nf4Tensor : IDisposable
{
    internal Nf4Tensor(long[] shape, int blockSize, Tensor packed, Tensor? absmax, BlockwiseQuantized? quantizedAbsmax, float absmaxOffset)
    {
        if (absmax is null == quantizedAbsmax is null)
        {
            throw new ArgumentException("exactly one of absmax and quantizedAbsmax must be given");
        }

        Shape = shape;
        BlockSize = blockSize;
        Packed = packed.DetachFromDisposeScope();
        Absmax = absmax?.DetachFromDisposeScope();
        QuantizedAbsmax = quantizedAbsmax;
        AbsmaxOffset = absmaxOffset;
    }

    /// <summary>The weight's shape, e.g. [out_features, in_features].</summary>
    public long[] Shape { get; }

    public int BlockSize { get; }

    /// <summary>uint8, two codes per byte: byte j holds element 2j in bits 7..4 and element 2j+1 in bits 3..0.</summary>
    public Tensor Packed { get; private set; }

    /// <summary>float32 absmax per block, when not double-quantized.</summary>
    public Tensor? Absmax { get; private set; }

    /// <summary>The absmax values minus <see cref="AbsmaxOffset"/>, 8-bit dynamic codes in blocks of 256 (double quantization).</summary>
    public BlockwiseQuantized? QuantizedAbsmax { get; private set; }

    /// <summary>The mean of the absmax values, subtracted before their quantization (0 without double quantization).</summary>
    public float AbsmaxOffset { get; }

    public bool DoubleQuantized => QuantizedAbsmax is not null;

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long BlockCount => (ElementCount + BlockSize - 1) / BlockSize;

    public Device Device => Packed.device;

    /// <summary>Bytes held: packed codes plus the absmax statistics.</summary>
    public long StorageBytes => Packed.NumberOfElements + (Absmax?.NumberOfElements * 4 ?? 0)
        + (QuantizedAbsmax is { } q ? q.Codes.NumberOfElements + q.Absmax.NumberOfElements * 4 : 0);

    /// <summary>The float32 absmax of every block (double quantization undone).</summary>
    public Tensor BlockAbsmax()
    {
        if (Absmax is not null)
        {
            return Absmax.clone();
        }

        using var scope = NewDisposeScope();
        return (QuantizedAbsmax!.Dequantize() + AbsmaxOffset).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The dequantized weight in <paramref name="dtype"/> on the weight's device: a fresh tensor the caller owns. One
    /// fused CUDA kernel where it applies, else the TorchSharp reference (bit-identical).
    /// </summary>
    public Tensor Dequantize(ScalarType dtype) => FusedNf4Dequantize.Dequantize(this, dtype);

    /// <summary>Moves (or copies) the tensors to <paramref name="device"/>; returns a new owner and leaves this one intact.</summary>
    public Nf4Tensor To(Device device)
    {
        var q = QuantizedAbsmax is { } qa
            ? BlockwiseQuantized.FromParts(qa.Codes.to(device), qa.Absmax.to(device), qa.Map, qa.BlockSize, qa.Shape)
            : null;
        return new Nf4Tensor(Shape, BlockSize, Packed.to(device), Absmax?.to(device), q, AbsmaxOffset);
    }

    public void Dispose()
    {
        Packed.Dispose();
        Absmax?.Dispose();
        QuantizedAbsmax?.Dispose();
    }
}
