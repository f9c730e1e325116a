using SharpTune.Kernels;
using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Tests.Quantization;

public sealed class DequantizedWeightCacheTests
{
    [Fact]
    public void An_open_cache_hands_the_forward_dequantization_to_the_backward_once()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var weight = Nf4Quantizer.Quantize(randn([64, 128]));
        long before = DequantizedWeightCache.ReusedOnThisThread;
        var expected = weight.Dequantize(ScalarType.Float32);

        using (DequantizedWeightCache.Open())
        {
            var forward = DequantizedWeightCache.ForForward(weight, ScalarType.Float32);
            using var backward = DequantizedWeightCache.ForBackward(weight, ScalarType.Float32);
            Assert.Equal(TensorPointer.Of(forward), TensorPointer.Of(backward));
            Assert.Equal(before + 1, DequantizedWeightCache.ReusedOnThisThread);
            using var again = DequantizedWeightCache.ForBackward(weight, ScalarType.Float32); // taken already: a new one
            Assert.NotEqual(TensorPointer.Of(forward), TensorPointer.Of(again));
            Assert.True(again.allclose(expected, rtol: 0, atol: 0));
        }

        Assert.Equal(before + 1, DequantizedWeightCache.ReusedOnThisThread);
    }

    [Fact]
    public void Without_an_open_cache_or_in_another_dtype_the_weight_is_dequantized_again()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var weight = Nf4Quantizer.Quantize(randn([32, 64]));
        long before = DequantizedWeightCache.ReusedOnThisThread;
        var forward = DequantizedWeightCache.ForForward(weight, ScalarType.Float32);
        using (var backward = DequantizedWeightCache.ForBackward(weight, ScalarType.Float32))
        {
            Assert.NotEqual(TensorPointer.Of(forward), TensorPointer.Of(backward));
        }

        using (DequantizedWeightCache.Open())
        {
            DequantizedWeightCache.ForForward(weight, ScalarType.Float32);
            using var other = DequantizedWeightCache.ForBackward(weight, ScalarType.BFloat16);
            Assert.Equal(ScalarType.BFloat16, other.dtype);
        }

        Assert.Equal(before, DequantizedWeightCache.ReusedOnThisThread);
    }
}
