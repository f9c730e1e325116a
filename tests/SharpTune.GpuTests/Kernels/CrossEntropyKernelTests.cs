using SharpTune.Kernels.CrossEntropy;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

public sealed class CrossEntropyKernelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(5, 1001, ScalarType.Float32)]
    [InlineData(256, 128256, ScalarType.BFloat16)]
    [InlineData(33, 32000, ScalarType.Float16)]
    public void Loss_and_logit_gradient_are_as_accurate_as_the_reference(int rows, int vocab, ScalarType dtype)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var logits64 = randn([rows, vocab], ScalarType.Float64, CUDA) * 4;
        var targets = randint(0, vocab, [rows], ScalarType.Int64, CUDA);
        var truth = CrossEntropyReference.LossAndGradient(logits64, targets);
        var reference = KernelComparison.With(false, () => FusedCrossEntropy.LossAndGradient(logits64.to(dtype), targets));
        KernelComparison.PoisonCachingAllocator((long)rows * vocab, dtype);
        var fused = KernelComparison.With(true, () => FusedCrossEntropy.LossAndGradient(logits64.to(dtype), targets));
        Assert.Equal(dtype, fused.Gradient.dtype);
        Assert.Equal(ScalarType.Float32, fused.Loss.dtype);
        KernelComparison.AssertAsAccurateAsReference("cross-entropy loss", fused.Loss, reference.Loss, truth.Loss, ScalarType.Float32, output);
        KernelComparison.AssertAsAccurateAsReference("cross-entropy gradient", fused.Gradient, reference.Gradient, truth.Gradient, dtype, output);
    }

    [Fact]
    public void Non_finite_logits_and_bad_targets_give_nan_losses()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        // Wider than the block (512 threads), so each thread sees several values and a NaN comes before finite ones.
        var logits = randn([3, 2048], ScalarType.BFloat16, CUDA);
        logits[0, 17] = tensor(double.NaN);
        var targets = tensor(new long[] { 1, 2048, 2 }).cuda();
        var (loss, gradient) = KernelComparison.With(true, () => FusedCrossEntropy.LossAndGradient(logits, targets));
        var values = loss.cpu().data<float>().ToArray();
        Assert.True(float.IsNaN(values[0]), "a NaN logit must make its row's loss NaN");
        Assert.True(float.IsNaN(values[1]), "a target outside the vocabulary must give a NaN loss");
        Assert.True(float.IsFinite(values[2]));
        Assert.True(gradient[0].isnan().any().item<bool>());
        Assert.False(gradient[2].isnan().any().item<bool>());
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    [InlineData(ScalarType.Float16, 5e-3)]
    [InlineData(ScalarType.Float32, 1e-5)]
    public void Linear_cross_entropy_equals_autograd_through_the_lm_head(ScalarType dtype, double tolerance)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var weight = (randn([32000, 512], ScalarType.Float32, CUDA) * 0.05).to(dtype);
        Tensor LmHead(Tensor h) => nn.functional.linear(h, weight);
        var hidden = randn([300, 512], ScalarType.Float32, CUDA).to(dtype);
        var targets = randint(0, 32000, [300], ScalarType.Int64, CUDA);
        var upstream = tensor(0.37f, device: CUDA);

        var h1 = hidden.detach().to(ScalarType.Float64).requires_grad_(true);
        var truth = nn.functional.cross_entropy(nn.functional.linear(h1, weight.to(ScalarType.Float64)), targets, reduction: nn.Reduction.Sum);
        (truth * upstream).backward();

        var h2 = hidden.detach().clone().requires_grad_(true);
        var fused = KernelComparison.With(true, () => LinearCrossEntropyFunction.Apply(h2, targets, LmHead));
        (fused * upstream).backward();
        BackwardResults.ReleaseCurrentThread();

        double lossError = Math.Abs(fused.item<float>() - truth.item<double>()) / Math.Abs(truth.item<double>());
        double gradError = KernelComparison.RelativeError(h2.grad!, h1.grad!);
        output.WriteLine($"{dtype}: loss {lossError:E2}, hidden gradient {gradError:E2}");
        Assert.True(lossError <= tolerance / 10, $"loss differs by {lossError:E2}");
        Assert.True(gradError <= tolerance, $"hidden gradient differs by {gradError:E2} (limit {tolerance:E0})");
    }
}
