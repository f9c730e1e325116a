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

    /// <summary>Weights quantized per slice (a multiple of the block size): bounds the temporaries to ~200 MB.</summary>
    internal const long ChunkElements = 8L << 20;

    /// <summary>Quantizes <paramref name="weight"/> (any float dtype) on its own device; the result is on that device.</summary>
    public static Nf4Tensor Quantize(Tensor weight, bool doubleQuantize = true, int blockSize = DefaultBlockSize) =>
        Quantize(weight, doubleQuantize, blockSize, ChunkElements);

    /// <summary>The same, <paramref name="sliceElements"/> weights at a time (rounded down to whole blocks).</summary>
    internal static Nf4Tensor Quantize(Tensor weight, bool doubleQuantize, int blockSize, long sliceElements)
    {
        if (blockSize <= 0 || blockSize % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be a positive even number");
        }

        using var scope = NewDisposeScope();
        var flat = weight.detach().reshape(-1);
        long n = flat.shape[0];
        long blocks = (n + blockSize - 1) / blockSize;
        var absmax = empty([blocks], ScalarType.Float32, device: weight.device);
        var packed = empty([(n + 1) / 2], ScalarType.Byte, device: weight.device);
        var boundaries = tensor(Nf4CodeBook.Midpoints.ToArray(), device: weight.device);
        // Blocks are independent: quantizing a slice of whole blocks at a time gives the same bytes and keeps the
        // float32 temporaries (about 24 bytes per weight) to one slice instead of the whole matrix.
        sliceElements = Math.Max(blockSize, sliceElements / blockSize * blockSize);
        for (long start = 0; start < n; start += sliceElements)
        {
            using var sliceScope = NewDisposeScope();
            long length = Math.Min(sliceElements, n - start);
            long sliceBlocks = (length + blockSize - 1) / blockSize;
            var slice = flat.narrow(0, start, length).to(ScalarType.Float32);
            var padded = sliceBlocks * blockSize == length ? slice : nn.functional.pad(slice, [0, sliceBlocks * blockSize - length]);
            var view = padded.view(sliceBlocks, blockSize);
            var sliceAbsmax = view.abs().amax([1]);
            absmax.narrow(0, start / blockSize, sliceBlocks).copy_(sliceAbsmax);
            var safe = where(sliceAbsmax > 0, sliceAbsmax, ones_like(sliceAbsmax));
            var normalized = view / safe.unsqueeze(1);
            var codes = bucketize(normalized.contiguous(), boundaries, outInt32: true, right: false).view(-1).narrow(0, 0, length);
            if (length % 2 == 1)
            {
                codes = cat([codes, zeros(1, ScalarType.Int32, weight.device)]);
            }

            var pairs = codes.view(-1, 2);
            packed.narrow(0, start / 2, pairs.shape[0]).copy_(pairs.select(1, 0).bitwise_left_shift(4).bitwise_or(pairs.select(1, 1)));
        }

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
