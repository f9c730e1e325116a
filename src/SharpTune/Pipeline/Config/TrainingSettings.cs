using SharpTune.Training;

namespace SharpTune.Pipeline.Config;

/// <summary>
/// The supervised fine-tuning run: batch, accumulation, steps, optimizer, schedule, precision, seed, and the GPUs of
/// this host to train on (<c>gpus</c>, one process each; <c>batch_size</c> is per GPU), whether the frozen input
/// embedding table stays in host memory (<c>embedding_on_host</c>, 1 GB less GPU memory at 8B), and which layers are
/// checkpointed (<c>checkpoint_layers</c>: all by default, the first N, or auto: as many layers keep their activations
/// as fit in the GPU's free memory; see <see cref="TrainingOptions.CheckpointLayers"/>), and how many checkpointed
/// layers send their MLP gate and up outputs to host memory for their recompute (<c>offload_mlp_layers</c>, 0 by default; see
/// <see cref="TrainingOptions.OffloadMlpLayers"/>), and with <c>checkpoint_layers: auto</c> the GPU memory the run may
/// reach (<c>gpu_memory_budget_gib</c>, unset by default: the GPU's free memory).
/// </summary>
public sealed record TrainingSettings(
    int BatchSize,
    int GradientAccumulation,
    int Steps,
    double LearningRate,
    string Optimizer,
    string Scheduler,
    int WarmupSteps,
    double WeightDecay,
    string Precision,
    bool GradientCheckpointing,
    int Seed,
    string Device,
    int Gpus = 1,
    bool EmbeddingOnHost = false,
    string? CheckpointLayers = null,
    int OffloadMlpLayers = 0,
    double? GpuMemoryBudgetGib = null)
{
    public static readonly string[] Optimizers = ["adamw", "adamw_8bit"];
    public static readonly string[] Schedulers = ["linear", "cosine", "constant"];
    public static readonly string[] Precisions = ["auto", "bf16", "fp16", "fp32"];
    public static readonly string[] Devices = ["auto", "cpu", "cuda"];

    internal static TrainingSettings Read(YamlSection section)
    {
        var settings = new TrainingSettings(
            section.Int("batch_size", 2, min: 1, max: 4096),
            section.Int("gradient_accumulation", 4, min: 1, max: 4096),
            section.Int("steps", 75, min: 1),
            section.Double("learning_rate", 2e-4, min: 0, max: 10),
            section.Choice("optimizer", "adamw_8bit", Optimizers),
            section.Choice("scheduler", "linear", Schedulers),
            section.Int("warmup_steps", 5, min: 0),
            section.Double("weight_decay", 0.01, min: 0),
            section.Choice("precision", "auto", Precisions),
            section.Bool("gradient_checkpointing", true),
            section.Int("seed", 3407),
            section.Choice("device", "auto", Devices),
            section.Int("gpus", 1, min: 1, max: 64),
            section.Bool("embedding_on_host", false),
            CheckpointLayersSetting(section),
            section.Int("offload_mlp_layers", 0, min: 0, max: 1024),
            section.Double("gpu_memory_budget_gib", 0, min: 0, max: 1 << 20) is > 0 and var budget ? budget : null);
        if (settings.GpuMemoryBudgetGib is not null && !CheckpointLayersValue.IsAuto(settings.CheckpointLayers))
        {
            section.Error("gpu_memory_budget_gib", $"'{section.Path}.gpu_memory_budget_gib' works with checkpoint_layers: auto (it limits the layers that keep their activations)");
        }

        if (settings.Gpus > 1 && CheckpointLayersValue.IsAuto(settings.CheckpointLayers))
        {
            section.Error("checkpoint_layers", $"'{section.Path}.checkpoint_layers: auto' works on one GPU (gpus: 1); give a number of layers with gpus: {settings.Gpus}");
        }

        if (settings.OffloadMlpLayers > 0 && !settings.GradientCheckpointing)
        {
            section.Error("offload_mlp_layers", $"'{section.Path}.offload_mlp_layers' needs gradient_checkpointing: true (it replaces part of a checkpointed layer's recompute)");
        }

        section.Finish();
        return settings;
    }

    /// <summary>"auto", a number of layers, or "all" (the default: null).</summary>
    private static string? CheckpointLayersSetting(YamlSection section)
    {
        string? value = section.OptionalString("checkpoint_layers")?.Trim();
        if (value is null || value.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (!CheckpointLayersValue.TryParse(value, out _))
        {
            section.Error("checkpoint_layers", $"'{section.Path}.checkpoint_layers' must be all, auto or a number of layers, got '{value}'");
            return null;
        }

        return value;
    }
}
