using SharpTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.Nf4;

/// <summary>
/// NF4 dequantization in TorchSharp ops: the block absmax (double quantization undone in float32) rounded to the dtype,
/// times the code book values of each byte's two nibbles (a [256, 2] table, rounded to the dtype), block by block.
/// Any dtype and device; the oracle for <see cref="Nf4DequantizeKernel"/>.
/// </summary>
public static class Nf4DequantizeReference
{
    public static Tensor Dequantize(Nf4Tensor weight, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var absmax = weight.BlockAbsmax().to(dtype);
        var pairs = PairTable(dtype, weight.Device);
        long n = weight.ElementCount, blocks = weight.BlockCount, padded = blocks * weight.BlockSize;
        var values = pairs.index_select(0, weight.Packed.to(ScalarType.Int32)).view(-1);
        if (values.shape[0] < padded)
        {
            values = nn.functional.pad(values, [0, padded - values.shape[0]]);
        }

        var scaled = values.narrow(0, 0, padded).view(blocks, weight.BlockSize) * absmax.unsqueeze(1);
        return scaled.view(-1).narrow(0, 0, n).view(weight.Shape).MoveToOuterDisposeScope();
    }

    /// <summary>A [256, 2] table: for each byte, the code book values of its high and low nibbles.</summary>
    private static Tensor PairTable(ScalarType dtype, Device device)
    {
        var table = new float[512];
        for (int b = 0; b < 256; b++)
        {
            table[2 * b] = Nf4CodeBook.Values[b >> 4];
            table[2 * b + 1] = Nf4CodeBook.Values[b & 0x0F];
        }

        return tensor(table, [256, 2], dtype: ScalarType.Float32, device: device).to(dtype);
    }
}
