using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// Quantizes weights to NF4 the way bitsandbytes does (<c>quantize_4bit(quant_type="nf4", blocksize=64)</c>): per
/// block, absmax = max |w|, each value divided by it and rounded to the nearest code book value; optionally the absmax
/// values are double-quantized (8-bit dynamic codes in blocks of 256 around their mean).
/// </summary>
public static class Nf4Quantizer
{
    public const int DefaultBlockSize = 64;
    public const int NestedBlockSize = 256;

    /// <summary>Quantizes <paramref name="weight"/> (any float dtype) on its own device; the result is on that device.</summary>
    public static Nf4Tensor Quantize(Tensor weight, bool doubleQuantize = true, int blockSize = DefaultBlockSize)
    {
        if (blockSize <= 0 || blockSize % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be a positive even number");
        }

        using var scope = NewDisposeScope();
        var flat = weight.detach().reshape(-1).to(ScalarType.Float32);
        long n = flat.shape[0];
        long blocks = (n + blockSize - 1) / blockSize;
        var padded = blocks * blockSize == n ? flat : nn.functional.pad(flat, [0, blocks * blockSize - n]);
        var view = padded.view(blocks, blockSize);
        var absmax = view.abs().amax([1]);
        var safe = where(absmax > 0, absmax, ones_like(absmax));
        var normalized = view / safe.unsqueeze(1);
        var boundaries = tensor(Nf4CodeBook.Midpoints.ToArray(), device: weight.device);
        var codes = bucketize(normalized.contiguous(), boundaries, outInt32: true, right: false).view(-1).narrow(0, 0, n);
        if (n % 2 == 1)
        {
            codes = cat([codes, zeros(1, ScalarType.Int32, weight.device)]);
        }

        var pairs = codes.view(-1, 2);
        var packed = (pairs.select(1, 0).bitwise_left_shift(4).bitwise_or(pairs.select(1, 1))).to(ScalarType.Byte).contiguous();
        if (!doubleQuantize)
        {
            return new Nf4Tensor(weight.shape, blockSize, packed, absmax, null, 0f);
        }

        float offset = absmax.mean().item<float>();
        var quantizedAbsmax = BlockwiseQuantized.Quantize(absmax - offset, DynamicQuantizationMap.Signed, NestedBlockSize);
        return new Nf4Tensor(weight.shape, blockSize, packed, null, quantizedAbsmax, offset);
    }

    /// <summary>Rebuilds an NF4 tensor from stored parts (takes ownership of the tensors).</summary>
    public static Nf4Tensor FromParts(long[] shape, int blockSize, Tensor packed, Tensor? absmax, Tensor? quantizedAbsmaxCodes,
        Tensor? quantizedAbsmaxScales, float absmaxOffset)
    {
        long blocks = (shape.Aggregate(1L, (a, b) => a * b) + blockSize - 1) / blockSize;
        BlockwiseQuantized? nested = quantizedAbsmaxCodes is null ? null
            : BlockwiseQuantized.FromParts(quantizedAbsmaxCodes, quantizedAbsmaxScales ?? throw new ArgumentNullException(nameof(quantizedAbsmaxScales)),
                DynamicQuantizationMap.Signed, NestedBlockSize, [blocks]);
        return new Nf4Tensor(shape, blockSize, packed, absmax, nested, absmaxOffset);
    }
}
