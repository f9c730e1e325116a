using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

public sealed class AdamWOptimizerTests
{
    /// <summary>Least squares on a [64, 128] weight (8192 elements: 8-bit state) for 60 steps.</summary>
    private static (Tensor Weight, double[] Losses) Fit(OptimizerKind kind)
    {
        var generator = new Generator(9);
        var x = randn([256, 128], generator: generator);
        var target = matmul(x, randn([128, 64], generator: generator));
        var weight = zeros([64, 128]).requires_grad_(true);
        using var optimizer = new AdamWOptimizer([("w", weight)], kind, weightDecay: 0.01);
        var losses = new List<double>();
        for (int i = 0; i < 60; i++)
        {
            using var scope = NewDisposeScope();
            var loss = (matmul(x, weight.t()) - target).pow(2).mean();
            loss.backward();
            losses.Add(loss.item<float>());
            optimizer.Step(0.05);
            optimizer.ZeroGrad();
        }

        return (weight.detach(), losses.ToArray());
    }

    [Fact]
    public void Eight_bit_adamw_tracks_fp32_adamw_closely_and_keeps_a_quarter_of_the_state()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var (full, fullLosses) = Fit(OptimizerKind.AdamW);
        var (eight, eightLosses) = Fit(OptimizerKind.AdamW8Bit);
        Assert.True(fullLosses[^1] < 0.05 * fullLosses[0]);
        Assert.True(eightLosses[^1] < 0.05 * eightLosses[0]);
        double relative = (eight - full).norm().item<float>() / full.norm().item<float>();
        Assert.True(relative < 0.05, $"8-bit weights differ from fp32 by {relative:P2}");
        Assert.True(relative > 0, "the 8-bit run must really quantize");
        using var a = new AdamWOptimizer([("w", zeros([64, 128]))], OptimizerKind.AdamW);
        using var b = new AdamWOptimizer([("w", zeros([64, 128]))], OptimizerKind.AdamW8Bit);
        Assert.Equal(2 * 8192 * 4, a.StateBytes);
        Assert.Equal(2 * (8192 + 32 * 4), b.StateBytes);
    }

    [Fact]
    public void The_first_fp32_step_matches_the_adamw_formula()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var p = tensor(new float[] { 1f, -2f }).requires_grad_(true);
        using var optimizer = new AdamWOptimizer([("p", p)], OptimizerKind.AdamW, weightDecay: 0.1);
        (p * tensor(new float[] { 3f, 0.5f })).sum().backward();
        optimizer.Step(0.01);
        // Step 1: m/(1-b1) = g, sqrt(v/(1-b2)) = |g|, so p <- p(1 - lr wd) - lr * g / (|g| + eps).
        Assert.Equal(1f * (1 - 0.001f) - 0.01f, p.data<float>()[0], 5);
        Assert.Equal(-2f * (1 - 0.001f) - 0.01f, p.data<float>()[1], 5);
    }

    [Theory]
    [InlineData(LearningRateScheduleKind.Linear, 0, 0.0)]
    [InlineData(LearningRateScheduleKind.Linear, 5, 1.0)]
    [InlineData(LearningRateScheduleKind.Linear, 40, 0.5)]
    [InlineData(LearningRateScheduleKind.Cosine, 40, 0.5)]
    [InlineData(LearningRateScheduleKind.Cosine, 22.5, 0.8535533905932737)]
    [InlineData(LearningRateScheduleKind.Constant, 70, 1.0)]
    public void Schedules_warm_up_linearly_then_decay_as_hf_transformers_does(LearningRateScheduleKind kind, double step, double fraction)
    {
        var schedule = new LearningRateSchedule(kind, 2e-4, WarmupSteps: 10, TotalSteps: 70);
        if (step == 5)
        {
            Assert.Equal(1e-4, schedule.At(5), 12); // half way through warmup
            return;
        }

        if (step % 1 != 0)
        {
            // cosine a quarter of the way: 0.5 (1 + cos(pi/4))
            Assert.Equal(2e-4 * fraction, schedule.At(25), 12);
            return;
        }

        Assert.Equal(2e-4 * fraction, schedule.At((int)step), 12);
    }
}
