using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

[Collection(nameof(GlobalRandomCollection))]
public sealed class LinearCrossEntropyFunctionTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 1e-6)]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    [InlineData(ScalarType.Float16, 5e-3)] // the logit gradient is scaled by 2^10 before it is rounded, and back after
    public void Loss_and_hidden_gradient_equal_autograd_through_the_lm_head_and_cross_entropy(ScalarType dtype, double tolerance)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        manual_seed(11);
        var weight = (randn([97, 16]) * 0.5).to(dtype);
        var lmBias = (randn([97]) * 0.1).to(dtype);
        Tensor LmHead(Tensor h) => nn.functional.linear(h, weight, lmBias);
        var hidden = randn([13, 16]).to(dtype);
        var targets = randint(0, 97, [13], dtype: ScalarType.Int64);
        var upstream = tensor(0.37f);

        var h1 = hidden.detach().clone().requires_grad_(true);
        var reference = nn.functional.cross_entropy(LmHead(h1).to(ScalarType.Float32), targets, reduction: nn.Reduction.Sum);
        (reference * upstream).backward();

        var h2 = hidden.detach().clone().requires_grad_(true);
        var fused = LinearCrossEntropyFunction.Apply(h2, targets, LmHead);
        (fused * upstream).backward();
        BackwardResults.ReleaseCurrentThread();

        Assert.Equal(reference.item<float>(), fused.item<float>(), 1e-5 * Math.Abs(reference.item<float>()));
        var expected = h1.grad!.to(ScalarType.Float64);
        var actual = h2.grad!.to(ScalarType.Float64);
        double relative = (actual - expected).norm().item<double>() / expected.norm().item<double>();
        Assert.True(relative <= tolerance, $"hidden gradient differs by {relative:E2} (limit {tolerance:E0})");
        Assert.True(expected.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void Forward_saves_no_tensor_in_the_context_data_which_torchsharp_would_warn_about()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var weight = randn([11, 4]);
        Tensor LmHead(Tensor h) => nn.functional.linear(h, weight);
        var hidden = randn([3, 4]).requires_grad_(true);
        var targets = tensor(new long[] { 1, 5, 10 });
        var previous = Console.Out;
        using var captured = new StringWriter();
        Console.SetOut(captured);
        try
        {
            LinearCrossEntropyFunction.Apply(hidden, targets, LmHead).backward();
            BackwardResults.ReleaseCurrentThread();
        }
        finally
        {
            Console.SetOut(previous);
        }

        Assert.DoesNotContain("save_for_backward", captured.ToString());
        Assert.NotNull(hidden.grad);
    }

    [Fact]
    public void Chunked_loss_sums_equal_one_cross_entropy_over_the_labelled_positions()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        manual_seed(12);
        var weight = randn([31, 8]);
        Tensor LmHead(Tensor h) => nn.functional.linear(h, weight);
        var hidden = randn([2, 9, 8]).requires_grad_(true);
        var labels = randint(0, 31, [2, 9], dtype: ScalarType.Int64);
        labels[0, 0] = tensor(TrainingBatch.IgnoreIndex);
        labels[1, 4] = tensor(TrainingBatch.IgnoreIndex);

        var fused = CausalLmLoss.Sum(LmHead, hidden, labels, chunkTokens: 5, checkpointChunks: true);
        fused.backward();
        BackwardResults.ReleaseCurrentThread();
        var fusedGrad = hidden.grad!.clone();
        hidden.grad!.zero_();
        var plain = nn.functional.cross_entropy(LmHead(hidden).view(-1, 31), labels.view(-1), ignore_index: TrainingBatch.IgnoreIndex, reduction: nn.Reduction.Sum);
        plain.backward();

        Assert.Equal(plain.item<float>(), fused.item<float>(), 1e-4);
        Assert.True(fusedGrad.allclose(hidden.grad!, rtol: 1e-5, atol: 1e-6));
        Assert.Equal(0f, fusedGrad[0, 0].abs().sum().item<float>());
    }
}
