using SharpTune.Benchmarks;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

public sealed class KeptLayerBudgetTests
{
    [Fact]
    public void A_kept_llama3_8b_layer_counts_its_saved_tensors_per_token()
    {
        // Per token, bf16: input, norm 1 output, residual, norm 2 output (4 x 4096), q and the attention output
        // (2 x 32 heads x 128), k and v (2 x 8 x 128), gate and up (2 x 14336).
        long expected = (4 * 4096 + 2 * 4096 + 2 * 1024 + 2 * 14336) * 2;
        Assert.Equal(expected, KeptLayerBudget.BytesPerToken(BenchmarkModels.Config("llama3-8b"), ScalarType.BFloat16));
        Assert.Equal(2 * expected, KeptLayerBudget.BytesPerToken(BenchmarkModels.Config("llama3-8b"), ScalarType.Float32));

        // At 2 x 2048 tokens that is 432 MiB; the H200 measured 472 MiB per kept layer (36.34 GiB with none
        // checkpointed against 18.35 GiB with all), which the margin covers.
        double counted = expected * 4096.0 / (1 << 20);
        Assert.Equal(432, counted, 0.5);
        Assert.True(counted * KeptLayerBudget.Margin >= 472);
    }

    [Theory]
    [InlineData(100L, 10L, 2L, 32, 32)]   // 80 spare / 2.5 per layer = 32: all of them
    [InlineData(100L, 10L, 2L, 20, 20)]   // more room than layers
    [InlineData(100L, 80L, 2L, 32, 4)]    // 10 spare / 2.5 = 4
    [InlineData(100L, 89L, 2L, 32, 0)]    // 1 spare: not one layer
    [InlineData(100L, 95L, 2L, 32, 0)]    // already inside the headroom
    public void Kept_layers_fill_the_free_memory_less_the_headroom(long total, long used, long perLayer, int layers, int expected)
    {
        const long GiB = 1L << 30;
        Assert.Equal(expected, KeptLayerBudget.KeptLayers(total * GiB, used * GiB, perLayer * GiB, layers));
    }

    [Fact]
    public void Checkpoint_layers_takes_a_number_or_auto()
    {
        Assert.Null(new TrainingOptions().Validated().CheckpointLayerCount);
        Assert.Equal(24, new TrainingOptions { CheckpointLayers = "24" }.Validated().CheckpointLayerCount);
        var auto = new TrainingOptions { CheckpointLayers = "Auto" }.Validated();
        Assert.True(auto.CheckpointLayersAuto);
        Assert.Null(auto.CheckpointLayerCount);
        var error = Assert.Throws<SharpTuneException>(() => new TrainingOptions { CheckpointLayers = "-1" }.Validated());
        Assert.Equal("checkpoint_layers must be a number of layers or auto, not '-1'", error.Message);
        error = Assert.Throws<SharpTuneException>(() => new TrainingOptions { CheckpointLayers = "auto", Gpus = 2 }.Validated());
        Assert.Contains("one GPU", error.Message);
    }

    [Fact]
    public void Checkpoint_layers_survives_a_yaml_round_trip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-kept-{Guid.NewGuid():N}.yaml");
        try
        {
            foreach (string value in new[] { "auto", "12" })
            {
                var options = new TrainingOptions { CheckpointLayers = value };
                options.SaveYaml(path);
                var read = TrainingOptions.LoadYaml(path);
                Assert.Equal(value, read.CheckpointLayers);
            }

            File.WriteAllText(path, "checkpoint_layers: 7\n");
            Assert.Equal(7, TrainingOptions.LoadYaml(path).CheckpointLayerCount);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
