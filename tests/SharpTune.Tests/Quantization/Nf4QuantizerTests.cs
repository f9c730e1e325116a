using SharpTune.Quantization;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Quantization;

public sealed class Nf4QuantizerTests
{
    [Fact]
    public void The_code_book_is_bitsandbytes_nf4_sorted_with_an_exact_zero_and_midpoint_ties_go_down()
    {
        Assert.Equal(16, Nf4CodeBook.Values.Count);
        Assert.Equal(-1f, Nf4CodeBook.Values[0]);
        Assert.Equal(0f, Nf4CodeBook.Values[7]);
        Assert.Equal(1f, Nf4CodeBook.Values[15]);
        Assert.Equal(0.07958029955625534f, Nf4CodeBook.Values[8]);
        Assert.True(Nf4CodeBook.Values.Zip(Nf4CodeBook.Values.Skip(1)).All(p => p.First < p.Second));
        // bitsandbytes' dQuantizeNF4: "if (x > 0.8614784181118011f) return 0b1111" -- a value at the midpoint stays below.
        Assert.Equal(0.8614784181118011, Nf4CodeBook.Midpoints[14], 6);
        Assert.Equal(14, Nf4CodeBook.Nearest(Nf4CodeBook.Midpoints[14]));
        Assert.Equal(15, Nf4CodeBook.Nearest(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(Nf4CodeBook.Midpoints[14]) + 1)));
        Assert.Equal((-0.6961928009986877 - -1.0) / 2, Nf4CodeBook.MaxHalfGap, 7); // the widest gap is at -1
    }

    [Fact]
    public void Packing_matches_bitsandbytes_layout_on_a_hand_computed_block()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        // One block of 64: codes 0..15, then 15..0, then 0..15, then 15..0, each value = code book value * 2.5.
        int[] codes = [.. Enumerable.Range(0, 16), .. Enumerable.Range(0, 16).Reverse(), .. Enumerable.Range(0, 16), .. Enumerable.Range(0, 16).Reverse()];
        float[] values = codes.Select(c => Nf4CodeBook.Values[c] * 2.5f).ToArray();
        var weight = tensor(values, [2, 32]);
        using var q = Nf4Quantizer.Quantize(weight, doubleQuantize: false);
        byte[] packed = q.Packed.data<byte>().ToArray();
        Assert.Equal(32, packed.Length);
        // First element of each pair in the high nibble: 0x01, 0x23, ..., 0xEF, then 0xFE, 0xDC, ...
        Assert.Equal(new byte[] { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10 }, packed[..16]);
        Assert.Equal(packed[..16], packed[16..]);
        Assert.Equal(new[] { 2.5f }, q.Absmax!.data<float>().ToArray());
        using var back = q.Dequantize(float32);
        Assert.Equal(values, back.data<float>().ToArray());
        Assert.Equal(new long[] { 2, 32 }, back.shape);
    }

    [Fact]
    public void Values_between_codes_round_to_the_nearest_code()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var values = new float[64];
        values[0] = 1f; // absmax
        values[1] = 0.05f; // nearer 0.0796 than 0.0
        values[2] = 0.03f; // nearer 0.0
        values[3] = -0.6f; // between -0.696 and -0.525: nearer -0.525
        values[4] = -0.62f; // nearer -0.696 (midpoint -0.6106)
        using var q = Nf4Quantizer.Quantize(tensor(values), doubleQuantize: false);
        byte[] packed = q.Packed.data<byte>().ToArray();
        Assert.Equal(0xF8, packed[0]); // 1.0 -> 15, 0.05 -> 8
        Assert.Equal(0x72, packed[1]); // 0.03 -> 7, -0.6 -> 2
        Assert.Equal(0x17, packed[2]); // -0.62 -> 1, 0 -> 7
        for (int i = 0; i < 64; i++)
        {
            byte code = (byte)((i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2]) & 0xF);
            Assert.Equal(Nf4CodeBook.Nearest(values[i]), code);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Round_trip_error_is_within_the_code_book_bound_plus_the_absmax_error(bool doubleQuantize)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var weight = randn([96, 200], generator: new Generator(7)) * 0.02f; // 19200 values, 300 blocks
        weight[3, 5] = tensor(0.5f); // an outlier block
        using var q = Nf4Quantizer.Quantize(weight, doubleQuantize);
        Assert.Equal(doubleQuantize, q.DoubleQuantized);
        using var back = q.Dequantize(float32);
        var blocks = weight.reshape(-1, 64);
        var trueAbsmax = blocks.abs().amax([1]);
        var storedAbsmax = q.BlockAbsmax();
        var absmaxError = (storedAbsmax - trueAbsmax).abs();
        var error = (back.reshape(-1, 64) - blocks).abs();
        var bound = trueAbsmax.unsqueeze(1) * (float)Nf4CodeBook.MaxHalfGap + absmaxError.unsqueeze(1) + 1e-7f;
        Assert.True((error <= bound).all().item<bool>(), $"max excess {(error - bound).max().item<float>()}");
        if (doubleQuantize)
        {
            // 8-bit dynamic codes around the mean: each absmax within 1% of the largest deviation from the mean.
            float worst = (trueAbsmax - trueAbsmax.mean()).abs().max().item<float>();
            Assert.True(absmaxError.max().item<float>() <= 0.01f * worst, $"absmax error {absmaxError.max().item<float>()}");
            Assert.True(absmaxError.max().item<float>() > 0); // really quantized
            Assert.True(q.StorageBytes < 19200 / 2 + 300 + 8 + 1);
        }
        else
        {
            Assert.Equal(0f, absmaxError.max().item<float>());
        }

        // Typical NF4 error on Gaussian weights is ~ 0.1 absmax; far from the bound, far from zero.
        double relative = (back - weight).norm().item<float>() / weight.norm().item<float>();
        Assert.InRange(relative, 0.02, 0.2);
    }

    [Fact]
    public void A_size_that_is_not_a_multiple_of_the_block_pads_the_last_block()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var weight = randn([3, 37], generator: new Generator(1));
        using var q = Nf4Quantizer.Quantize(weight);
        Assert.Equal(2, q.BlockCount);
        Assert.Equal(56, q.Packed.shape[0]);
        using var back = q.Dequantize(float64);
        Assert.Equal(new long[] { 3, 37 }, back.shape);
        Assert.True((back.to(float32) - weight).abs().max().item<float>() < 0.25f * weight.abs().max().item<float>());
    }

    [Fact]
    public void Nf4_linear_forward_and_input_gradient_use_the_dequantized_weight_and_the_weight_gets_no_gradient()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var weight = randn([48, 64], generator: generator);
        var bias = randn([48], generator: generator);
        using var layer = Nf4Linear.FromWeight(weight, bias);
        var x = randn([2, 5, 64], generator: generator).requires_grad_(true);
        var y = layer.forward(x);
        var upstream = randn([2, 5, 48], generator: generator);
        (y * upstream).sum().backward();
        BackwardResults.ReleaseCurrentThread();

        using var w = layer.DequantizedWeight(float32);
        var expected = nn.functional.linear(x.detach(), w, bias);
        Assert.True(allclose(y.detach(), expected, rtol: 1e-5, atol: 1e-5));
        Assert.True(allclose(x.grad!, matmul(upstream, w), rtol: 1e-5, atol: 1e-5));
        Assert.Empty(layer.parameters());
    }

    [Fact]
    public void Nf4_linear_gradient_matches_finite_differences_in_float64()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        using var layer = Nf4Linear.FromWeight(randn([8, 64], generator: generator), null);
        var x = randn([3, 64], dtype: float64, generator: generator).requires_grad_(true);
        var loss = layer.forward(x).pow(2).sum();
        loss.backward();
        var analytic = x.grad!.clone();
        using var noGrad = no_grad();
        const double h = 1e-6;
        foreach (var (i, j) in new[] { (0, 0), (1, 17), (2, 63) })
        {
            var plus = x.detach().clone();
            plus[i, j] += h;
            var minus = x.detach().clone();
            minus[i, j] -= h;
            double numeric = (layer.forward(plus).pow(2).sum().item<double>() - layer.forward(minus).pow(2).sum().item<double>()) / (2 * h);
            Assert.Equal(numeric, analytic[i, j].item<double>(), 5);
        }
    }

    [Theory]
    [InlineData(false, 128)]
    [InlineData(true, 192)]
    [InlineData(true, 100)] // rounded down to whole blocks (64)
    public void Quantizing_slice_by_slice_gives_the_same_bytes_as_all_at_once(bool doubleQuantize, long sliceElements)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        // 13 x 77 = 1,001 weights: the last block is partial and the count is odd (a padded last nibble).
        var weight = randn([13, 77], generator: new Generator(5)) * 0.3f;
        using var whole = Nf4Quantizer.Quantize(weight, doubleQuantize, Nf4Quantizer.DefaultBlockSize, long.MaxValue);
        using var sliced = Nf4Quantizer.Quantize(weight, doubleQuantize, Nf4Quantizer.DefaultBlockSize, sliceElements);
        Assert.Equal(whole.Packed.data<byte>().ToArray(), sliced.Packed.data<byte>().ToArray());
        Assert.Equal(whole.Dequantize(ScalarType.Float32).data<float>().ToArray(), sliced.Dequantize(ScalarType.Float32).data<float>().ToArray());
        Assert.Equal(501, sliced.Packed.shape[0]);
    }
}
