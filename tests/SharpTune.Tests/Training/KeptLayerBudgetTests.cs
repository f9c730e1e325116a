using SharpTune.Benchmarks;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Stages;
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

    [Fact]
    public void Without_the_fused_mlp_or_with_dropout_a_kept_layer_holds_more()
    {
        var config = BenchmarkModels.Config("llama3-8b");
        long fused = KeptLayerBudget.BytesPerToken(config, ScalarType.BFloat16);
        // The per-projection path also keeps silu(gate) * up (the down projection's input).
        Assert.Equal(fused + 14336 * 2, KeptLayerBudget.BytesPerToken(config, ScalarType.BFloat16, fusedMlp: false));
        // Dropout: the dropped inputs of q, k, v, gate, up (hidden), o (q-sized) and down (intermediate), 2 bytes each
        // in bf16, and a one-byte mask per value.
        long dropped = 5 * 4096 + 4096 + 14336;
        Assert.Equal(fused + 14336 * 2 + dropped * 3, KeptLayerBudget.BytesPerToken(config, ScalarType.BFloat16, fusedMlp: false, dropout: true));
    }

    [Theory]
    // free, total, per token, checkpoint per token, tokens, measured tokens, layers -> checkpointed (GiB and "tokens" scaled below)
    [InlineData(90L, 100L, 1L, 0L, 2L, 2L, 32, 0)]    // (90 - 10) / 2.5 = 32 kept
    [InlineData(90L, 100L, 1L, 0L, 2L, 2L, 20, 0)]    // more room than layers
    [InlineData(20L, 100L, 1L, 0L, 2L, 2L, 32, 28)]   // (20 - 10) / 2.5 = 4 kept
    [InlineData(11L, 100L, 1L, 0L, 2L, 2L, 32, 32)]   // 1 GiB spare: not one layer
    [InlineData(5L, 100L, 1L, 0L, 2L, 2L, 32, 32)]    // already inside the headroom
    [InlineData(20L, 100L, 1L, 1L, 2L, 1L, 32, 29)]   // the first step was 1 token short: (20 - 10 - 1 x (1 + 1)) / 2.5 = 3.2 -> 3 kept
    public void Checkpointed_layers_leave_the_kept_ones_room_in_the_free_memory(long free, long total, long perToken, long checkpointPerToken,
        long tokens, long measured, int layers, int expected)
    {
        const long GiB = 1L << 30;
        Assert.Equal(expected, KeptLayerBudget.CheckpointedLayers(free * GiB, total * GiB, perToken * GiB, checkpointPerToken * GiB, tokens, measured, layers));
    }

    [Theory]
    // free, budget left, layers -> checkpointed, with 100 GiB in all, 1 GiB per token, 2 tokens (2.5 GiB per kept layer with the margin)
    [InlineData(90L, 10L, 32, 28)]   // the budget decides: 10 / 2.5 = 4 kept
    [InlineData(20L, 50L, 32, 28)]   // the free memory decides: (20 - 10) / 2.5 = 4 kept
    [InlineData(90L, 2L, 32, 32)]    // less than one layer left in the budget
    [InlineData(90L, -3L, 32, 32)]   // the first step already went past the budget
    public void A_memory_budget_limits_the_kept_layers_as_well_as_the_free_memory(long free, long budgetLeft, int layers, int expected)
    {
        const long GiB = 1L << 30;
        Assert.Equal(expected, KeptLayerBudget.CheckpointedLayers(free * GiB, 100 * GiB, GiB, 0, 2, 2, layers, budgetLeft * GiB));
    }

    [Fact]
    public void A_memory_budget_needs_checkpoint_layers_auto_and_reaches_the_trainer()
    {
        Assert.Equal(26.5, new TrainingOptions { CheckpointLayers = "auto", GpuMemoryBudgetGib = 26.5 }.Validated().GpuMemoryBudgetGib);
        Assert.Throws<SharpTuneException>(() => new TrainingOptions { GpuMemoryBudgetGib = 26.5 }.Validated());
        Assert.Throws<SharpTuneException>(() => new TrainingOptions { CheckpointLayers = "auto", GpuMemoryBudgetGib = 0 }.Validated());

        PipelineDefinition Parse(string training) =>
            PipelineLoader.Parse($"model: {{id: a/b}}\ndataset: {{file: x}}\ntraining:\n{training}", "p.yaml");
        var options = TrainLoraStage.Options(Parse("  checkpoint_layers: auto\n  gpu_memory_budget_gib: 26\n"), "/m", null, "/d", "/o");
        Assert.Equal(26, options.GpuMemoryBudgetGib);
        Assert.Null(TrainLoraStage.Options(Parse("  checkpoint_layers: auto\n"), "/m", null, "/d", "/o").GpuMemoryBudgetGib);
        var error = Assert.Throws<PipelineConfigException>(() => Parse("  gpu_memory_budget_gib: 26\n"));
        Assert.Contains("'training.gpu_memory_budget_gib' works with checkpoint_layers: auto", error.Diagnostics.Single().ToString());
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
