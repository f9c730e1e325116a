using SharpTune.Lora;
using SharpTune.Quantization;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Lora;

public sealed class LoraLinearTests
{
    [Fact]
    public void Forward_equals_base_plus_scaled_B_times_A()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(1);
        var baseLayer = nn.Linear(32, 24, hasBias: true);
        using var lora = new LoraLinear(baseLayer, 32, 24, rank: 4, scaling: 16.0 / 4, dropout: 0, generator);
        using (no_grad())
        {
            lora.LoraB.copy_(randn([24, 4], generator: generator));
        }

        var x = randn([3, 7, 32], generator: generator);
        var expected = baseLayer.forward(x) + matmul(x, matmul(lora.LoraB, lora.LoraA).t()) * 4.0;
        Assert.True(allclose(lora.forward(x), expected, rtol: 1e-5, atol: 1e-5));
        Assert.True(allclose(lora.Delta(), matmul(lora.LoraB, lora.LoraA) * 4.0));
    }

    [Fact]
    public void Initialization_is_peft_kaiming_uniform_for_A_and_zero_for_B_and_reproducible_for_a_seed()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        using var a = new LoraLinear(nn.Linear(400, 300), 400, 300, 16, 1, 0, new Generator(3407));
        using var b = new LoraLinear(nn.Linear(400, 300), 400, 300, 16, 1, 0, new Generator(3407));
        double bound = 1 / Math.Sqrt(400);
        Assert.True(a.LoraA.abs().max().item<float>() <= bound);
        Assert.True(a.LoraA.abs().max().item<float>() > 0.95 * bound); // uniform over the whole range
        Assert.InRange(a.LoraA.std().item<float>(), 0.9 * bound / Math.Sqrt(3), 1.1 * bound / Math.Sqrt(3));
        Assert.Equal(0f, a.LoraB.abs().max().item<float>());
        Assert.True(a.LoraA.eq(b.LoraA).all().item<bool>());
        var x = randn([2, 400]);
        Assert.True(allclose(a.forward(x), a.BaseLayer.forward(x)));
        // Only A and B train; the base is frozen.
        Assert.Equal(new[] { "lora_A.weight", "lora_B.weight" }, a.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToArray());
    }

    [Fact]
    public void Gradients_of_A_and_B_match_finite_differences_in_float64()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(2);
        var first = new LoraLinear(nn.Linear(6, 5, dtype: float64), 6, 5, 2, 1.5, 0, generator, float64);
        var second = new LoraLinear(nn.Linear(5, 4, dtype: float64), 5, 4, 2, 0.5, 0, generator, float64);
        using (no_grad())
        {
            first.LoraB.copy_(randn([5, 2], dtype: float64, generator: generator));
            second.LoraB.copy_(randn([4, 2], dtype: float64, generator: generator));
        }

        var x = randn([3, 6], dtype: float64, generator: generator);
        Tensor Loss() => second.forward(first.forward(x).tanh()).pow(2).sum();
        Loss().backward();
        using var noGrad = no_grad();
        const double h = 1e-6;
        foreach (var parameter in new[] { first.LoraA, first.LoraB, second.LoraA, second.LoraB })
        {
            var flat = parameter.view(-1);
            var grad = parameter.grad!.view(-1);
            for (int i = 0; i < flat.shape[0]; i++)
            {
                double original = flat[i].item<double>();
                flat[i] = tensor(original + h, float64);
                double plus = Loss().item<double>();
                flat[i] = tensor(original - h, float64);
                double minus = Loss().item<double>();
                flat[i] = tensor(original, float64);
                Assert.Equal((plus - minus) / (2 * h), grad[i].item<double>(), 6);
            }
        }
    }

    [Fact]
    public void Lora_on_an_nf4_base_trains_only_the_adapter()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var nf4 = Nf4Linear.FromWeight(randn([16, 64], generator: generator), null);
        using var lora = new LoraLinear(nf4, 64, 16, 4, 2, 0, generator);
        var x = randn([5, 64], generator: generator).requires_grad_(true);
        lora.forward(x).pow(2).sum().backward();
        BackwardResults.ReleaseCurrentThread();
        Assert.NotNull(lora.LoraA.grad);
        Assert.NotNull(lora.LoraB.grad);
        Assert.True(lora.LoraB.grad!.abs().sum().item<float>() > 0);
        Assert.NotNull(x.grad);
        Assert.Equal(2, lora.parameters().Count());
    }
}
