using SharpTune.Lora;
using SharpTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Lora;

/// <summary>Random LoRA projections for the fused-function tests, and the relative-error check they compare with.</summary>
internal static class LoraTestProjections
{
    /// <summary>
    /// A <see cref="LoraLinear"/> over a <paramref name="kind"/> base of random weights (N(0, 1) times
    /// <paramref name="weightScale"/>, bias N(0, 1)); B is drawn N(0, 1) times <paramref name="bScale"/> (not PEFT's
    /// zeros), so the update shows in the output.
    /// </summary>
    public static LoraLinear Create(LoraBaseKind kind, ScalarType dtype, long inFeatures, long outFeatures, int rank, double scaling, double dropout, Generator generator,
        double weightScale, double bScale)
    {
        using var scope = NewDisposeScope();
        var weight = randn([outFeatures, inFeatures], generator: generator) * weightScale;
        var bias = kind is LoraBaseKind.LinearWithBias or LoraBaseKind.Nf4WithBias ? randn([outFeatures], generator: generator).to(dtype) : null;
        nn.Module<Tensor, Tensor> baseLayer;
        if (kind is LoraBaseKind.Nf4 or LoraBaseKind.Nf4WithBias)
        {
            baseLayer = Nf4Linear.FromWeight(weight, bias);
        }
        else
        {
            var linear = nn.Linear(inFeatures, outFeatures, hasBias: bias is not null, dtype: dtype);
            using (no_grad())
            {
                linear.weight!.copy_(weight);
                linear.bias?.copy_(bias!);
            }

            baseLayer = linear;
        }

        var lora = new LoraLinear(baseLayer, inFeatures, outFeatures, rank, scaling, dropout, generator);
        using (no_grad())
        {
            lora.LoraB.copy_(randn([outFeatures, rank], generator: generator) * bScale);
        }

        return lora;
    }

    /// <summary>|actual - expected| / |expected| (Frobenius norms, in float64) is at most <paramref name="tolerance"/>.</summary>
    public static void AssertClose(string what, Tensor actual, Tensor expected, double tolerance)
    {
        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64);
        double norm = e.norm().item<double>();
        Assert.True(norm > 0, $"{what}: the reference is zero");
        double relative = (actual.to(ScalarType.Float64) - e).norm().item<double>() / norm;
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: relative difference {relative:E2}");
        Assert.True(relative <= tolerance, $"{what} differs by {relative:E2} (limit {tolerance:E0})");
    }
}
