using SharpTune.GpuTests.Kernels;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Lora;

/// <summary>
/// On CUDA with the fused LoRA MLP, a checkpointed layer's recompute skips the MLP's down projection (its output value
/// is not needed for backward): the LoRA gradients must be those of the uncheckpointed model, and of one whose last
/// layer keeps its activations.
/// </summary>
public sealed class CheckpointedLoraGpuTests(ITestOutputHelper output)
{
    [Fact]
    public void Checkpointed_layers_give_the_gradients_of_plain_ones_with_the_fused_mlp()
    {
        _ = CudaFixture.Runtime;
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Small, 300, 1, [2], tieWordEmbeddings: false);
        var ids = randint(0, 300, [2, 64], dtype: ScalarType.Int64, device: CUDA).DetachFromDisposeScope();
        var labels = ids.roll(-1, 1).DetachFromDisposeScope();
        var recomputed = new List<int>();
        float[][] Gradients(GradientCheckpointing mode, int? checkpointedLayers = null) => KernelComparison.With(true, () =>
        {
            recomputed.Clear();
            using var scope = NewDisposeScope();
            using var model = new LoraCausalLM(TinyModelFactory.CreateModel(config, 5, ScalarType.Float32, CUDA), new LoraConfig { Rank = 8, Alpha = 16 });
            using (no_grad())
            {
                var generator = new Generator(11); // drawn on the CPU: the same B in every run
                foreach (var (name, parameter) in model.TrainableParameters.Where(p => p.Name.Contains("lora_B", StringComparison.Ordinal)))
                {
                    parameter.copy_(randn(parameter.shape, generator: generator) * 0.05);
                }
            }

            model.SetTraining(true);
            Assert.True(model.Model.Layers[0].Mlp.CanFuseLora, "the fused LoRA MLP does not apply");
            var hidden = model.ForwardHidden(ids, mode, 42, recomputed.Add, checkpointedLayers);
            CausalLmLoss.Sum(model.LmHead, hidden, labels, chunkTokens: 64, checkpointChunks: mode != GradientCheckpointing.Off).backward();
            BackwardResults.ReleaseCurrentThread();
            return model.TrainableParameters.Select(p => p.Parameter.grad!.cpu().data<float>().ToArray()).ToArray();
        });

        var plain = Gradients(GradientCheckpointing.Off);
        var checkpointed = Gradients(GradientCheckpointing.On);
        Assert.Equal(Enumerable.Range(0, config.NumHiddenLayers).Reverse(), recomputed);
        var lastKept = Gradients(GradientCheckpointing.On, checkpointedLayers: config.NumHiddenLayers - 1);
        Assert.Contains(plain, g => g.Any(v => v != 0));
        foreach (var (name, other) in new[] { ("checkpointed", checkpointed), ("last layer kept", lastKept) })
        {
            double worst = 0;
            for (int i = 0; i < plain.Length; i++)
            {
                double scale = plain[i].Max(Math.Abs) + 1e-12;
                worst = Math.Max(worst, plain[i].Zip(other[i], (a, b) => Math.Abs(a - b) / scale).Max());
            }

            output.WriteLine($"{name}: largest gradient difference relative to each tensor's largest value {worst:E2}");
            Assert.True(worst < 1e-4, $"{name}: gradients differ from the plain model's by {worst:E2} of their scale");
        }
    }
}
