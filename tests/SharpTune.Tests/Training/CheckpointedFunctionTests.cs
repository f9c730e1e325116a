using SharpTune.Lora;
using SharpTune.Quantization;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

[Collection(GlobalRandomCollection.Name)]
public sealed class CheckpointedFunctionTests
{
    /// <summary>A residual block: x + down(gelu(up(x))), both projections LoRA-wrapped NF4 layers with dropout.</summary>
    private sealed class Block : IDisposable
    {
        public Block(Generator generator, double dropout)
        {
            Up = new LoraLinear(Nf4Linear.FromWeight(randn([64, 32], generator: generator) * 0.2f, null), 32, 64, 4, 2, dropout, generator);
            Down = new LoraLinear(Nf4Linear.FromWeight(randn([32, 64], generator: generator) * 0.2f, null), 64, 32, 4, 2, dropout, generator);
            using var noGrad = no_grad();
            Up.LoraB.normal_(0, 0.1, generator);
            Down.LoraB.normal_(0, 0.1, generator);
        }

        public LoraLinear Up { get; }

        public LoraLinear Down { get; }

        public Tensor Forward(Tensor x) => x + Down.forward(nn.functional.gelu(Up.forward(x)));

        public IEnumerable<Tensor> Parameters => [Up.LoraA, Up.LoraB, Down.LoraA, Down.LoraB];

        public void Dispose()
        {
            Up.Dispose();
            Down.Dispose();
        }
    }

    private static (float Loss, float[][] Grads) Run(GradientCheckpointing mode, double dropout)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(42);
        var blocks = Enumerable.Range(0, 3).Select(_ => new Block(generator, dropout)).ToArray();
        var input = randn([4, 6, 32], generator: generator); // does not require grad, like embeddings' output
        var h = input;
        for (int i = 0; i < blocks.Length; i++)
        {
            var block = blocks[i];
            h = CheckpointedFunction.Run(block.Forward, h, mode, seed: 1000 + i);
        }

        var loss = h.pow(2).mean();
        loss.backward();
        BackwardResults.ReleaseCurrentThread();
        var grads = blocks.SelectMany(b => b.Parameters).Select(p => p.grad!.data<float>().ToArray()).ToArray();
        foreach (var block in blocks)
        {
            block.Dispose();
        }

        return (loss.item<float>(), grads);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Checkpointed_and_plain_runs_give_the_same_loss_and_gradients(double dropout)
    {
        SingleThreadedTorch.Initialize();
        var plain = Run(GradientCheckpointing.Off, dropout);
        var checkpointed = Run(GradientCheckpointing.On, dropout);
        var offloaded = Run(GradientCheckpointing.Offload, dropout);
        Assert.Equal(plain.Loss, checkpointed.Loss);
        Assert.Equal(plain.Loss, offloaded.Loss);
        Assert.Equal(12, plain.Grads.Length);
        for (int i = 0; i < plain.Grads.Length; i++)
        {
            Assert.True(plain.Grads[i].Any(g => g != 0), $"parameter {i} got no gradient");
            for (int j = 0; j < plain.Grads[i].Length; j++)
            {
                Assert.Equal(plain.Grads[i][j], checkpointed.Grads[i][j], 5);
                Assert.Equal(plain.Grads[i][j], offloaded.Grads[i][j], 5);
            }
        }
    }

    [Fact]
    public void Backward_reruns_the_recompute_function_when_one_is_given()
    {
        // The recompute builds the same graph, but its output value is not the body's (as the decoder layer's recompute
        // without the MLP's down projection): backward must use it, and the gradient is the body's.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var weight = tensor(new float[] { 1, 2, 3 }).requires_grad_(true);
        int bodyCalls = 0, recomputeCalls = 0;
        Tensor Body(Tensor t) { bodyCalls++; return t * weight; }
        Tensor Recompute(Tensor t) { recomputeCalls++; return (t * weight) + (t * weight).detach() * 0 - 7; } // same graph, another value

        var x = tensor(new float[] { 4, 5, 6 });
        var y = CheckpointedFunction.Run(Body, x, GradientCheckpointing.On, recompute: Recompute);
        Assert.Equal(new float[] { 4, 10, 18 }, y.data<float>().ToArray());
        y.backward([tensor(new float[] { 1, 1, 2 })]);
        BackwardResults.ReleaseCurrentThread();
        Assert.Equal((1, 1), (bodyCalls, recomputeCalls));
        Assert.Equal(new float[] { 4, 5, 12 }, weight.grad!.data<float>().ToArray());
    }

    [Fact]
    public void Without_grad_the_checkpoint_is_a_plain_call()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = ones(3);
        var y = CheckpointedFunction.Run(t => t * 2, x, GradientCheckpointing.On);
        Assert.False(y.requires_grad);
        Assert.Equal(new float[] { 2, 2, 2 }, y.data<float>().ToArray());
    }
}
