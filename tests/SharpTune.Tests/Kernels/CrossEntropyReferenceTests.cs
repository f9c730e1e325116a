using SharpTune.Kernels.CrossEntropy;
using static TorchSharp.torch;

namespace SharpTune.Tests.Kernels;

public sealed class CrossEntropyReferenceTests
{
    [Fact]
    public void Loss_and_gradient_equal_autograd_through_torch_cross_entropy()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(5);
        var logits = randn([7, 50], ScalarType.Float64, generator: generator) * 3;
        var targets = randint(0, 50, [7], ScalarType.Int64, generator: generator);

        var (loss, gradient) = CrossEntropyReference.LossAndGradient(logits, targets);

        var x = logits.detach().clone().requires_grad_(true);
        var rows = nn.functional.cross_entropy(x, targets, reduction: nn.Reduction.None);
        rows.sum().backward();
        Assert.Equal(ScalarType.Float32, loss.dtype);
        double lossError = (loss.to(ScalarType.Float64) - rows.detach()).abs().max().item<double>();
        Assert.True(lossError <= 1e-5, $"loss differs by {lossError:E2}");
        Assert.Equal(ScalarType.Float64, gradient.dtype);
        double gradientError = (gradient - x.grad!).abs().max().item<double>();
        Assert.True(gradientError <= 1e-12, $"gradient differs by {gradientError:E2}");
    }

    [Fact]
    public void Gradient_rows_sum_to_zero_and_keep_the_logits_dtype()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 0, 0, 0, 0, 10, -10, 0, 1 }, [2, 4]).to(ScalarType.BFloat16);
        var targets = tensor(new long[] { 2, 0 });

        var (loss, gradient) = CrossEntropyReference.LossAndGradient(logits, targets);

        Assert.Equal(ScalarType.BFloat16, gradient.dtype);
        Assert.Equal(Math.Log(4), loss[0].item<float>(), 5);
        // Row 0 is uniform: 1/4 everywhere, minus one at the target.
        Assert.Equal(new[] { 0.25f, 0.25f, -0.75f, 0.25f }, gradient[0].to(ScalarType.Float32).data<float>().ToArray());
        Assert.Equal(0.0, gradient.to(ScalarType.Float64).sum(1).abs().max().item<double>(), 2);
    }
}
