using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// A float tensor stored as 8-bit indices into a 256-value code map, one absmax scale per block (bitsandbytes'
/// <c>quantize_blockwise</c> with nearest-value rounding). Owns its tensors.
/// </summary>
public sealed class BlockwiseQuantized : IDisposable
{
    public const int DefaultBlockSize = 256;

    private BlockwiseQuantized(Tensor codes, Tensor absmax, IReadOnlyList<float> map, int blockSize, long[] shape)
    {
        Codes = codes;
        Absmax = absmax;
        Map = map;
        BlockSize = blockSize;
        Shape = shape;
    }

    /// <summary>uint8 codes, one per element (flat, unpadded).</summary>
    public Tensor Codes { get; private set; }

    /// <summary>float32 absmax of each block of <see cref="BlockSize"/> elements.</summary>
    public Tensor Absmax { get; private set; }

    public IReadOnlyList<float> Map { get; }

    public int BlockSize { get; }

    public long[] Shape { get; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Quantizes <paramref name="values"/> (any float dtype, any device) with <paramref name="map"/>.</summary>
    public static BlockwiseQuantized Quantize(Tensor values, IReadOnlyList<float> map, int blockSize = DefaultBlockSize)
    {
        using var scope = NewDisposeScope();
        var (codes, absmax) = QuantizeInto(values, map, blockSize);
        return new BlockwiseQuantized(codes.DetachFromDisposeScope(), absmax.DetachFromDisposeScope(), map, blockSize, values.shape);
    }

    /// <summary>Rebuilds a quantized tensor from stored parts (takes ownership: they leave any dispose scope).</summary>
    public static BlockwiseQuantized FromParts(Tensor codes, Tensor absmax, IReadOnlyList<float> map, int blockSize, long[] shape) =>
        new(codes.DetachFromDisposeScope(), absmax.DetachFromDisposeScope(), map, blockSize, shape);

    /// <summary>Requantizes new values of the same shape in place (the 8-bit optimizer's state update).</summary>
    public void Update(Tensor values)
    {
        using var scope = NewDisposeScope();
        var (codes, absmax) = QuantizeInto(values, Map, BlockSize);
        Codes.copy_(codes);
        Absmax.copy_(absmax);
    }

    /// <summary>The float32 values (shape <see cref="Shape"/>), on the codes' device.</summary>
    public Tensor Dequantize()
    {
        using var scope = NewDisposeScope();
        long n = ElementCount;
        long blocks = Absmax.shape[0];
        var values = MapTables.Values(Map, Codes.device).index_select(0, Codes.to(ScalarType.Int32));
        var padded = blocks * BlockSize == n ? values : nn.functional.pad(values, [0, blocks * BlockSize - n]);
        var scaled = padded.view(blocks, BlockSize) * Absmax.unsqueeze(1);
        return scaled.view(-1).narrow(0, 0, n).view(Shape).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Codes.Dispose();
        Absmax.Dispose();
    }

    private static (Tensor Codes, Tensor Absmax) QuantizeInto(Tensor values, IReadOnlyList<float> map, int blockSize)
    {
        var flat = values.detach().reshape(-1).to(ScalarType.Float32);
        long n = flat.shape[0];
        long blocks = (n + blockSize - 1) / blockSize;
        var padded = blocks * blockSize == n ? flat : nn.functional.pad(flat, [0, blocks * blockSize - n]);
        var view = padded.view(blocks, blockSize);
        var absmax = view.abs().amax([1]);
        var safe = where(absmax > 0, absmax, ones_like(absmax));
        var normalized = view / safe.unsqueeze(1);
        var boundaries = MapTables.Midpoints(map, values.device);
        var codes = bucketize(normalized.contiguous(), boundaries, outInt32: true, right: false).to(ScalarType.Byte);
        return (codes.view(-1).narrow(0, 0, n).contiguous(), absmax);
    }
}
