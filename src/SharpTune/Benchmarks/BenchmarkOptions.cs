using SharpTune.Models;
using SharpTune.Training;

namespace SharpTune.Benchmarks;

/// <summary>
/// Settings of one training-speed benchmark: a model of real shapes with random weights (<see cref="Model"/>, or
/// <see cref="Config"/> for any other shape), LoRA or QLoRA, batch x sequence, checkpointing, steps.
/// </summary>
public sealed record BenchmarkOptions
{
    /// <summary>One of <see cref="BenchmarkModels.Names"/>; ignored when <see cref="Config"/> is set.</summary>
    public string Model { get; init; } = "llama3-8b";

    /// <summary>A config to use instead of a named model (tests use tiny ones).</summary>
    public ModelConfig? Config { get; init; }

    /// <summary>lora (16-bit base) or qlora (NF4 base).</summary>
    public string Mode { get; init; } = "qlora";

    public int Batch { get; init; } = 2;

    public int Sequence { get; init; } = 2048;

    public GradientCheckpointing Checkpointing { get; init; } = GradientCheckpointing.On;

    /// <summary>Measured optimizer steps.</summary>
    public int Steps { get; init; } = 3;

    /// <summary>Steps run first and left out of the statistics (CUDA kernels compile, the allocator warms up).</summary>
    public int Warmup { get; init; } = 1;

    public bool Kernels { get; init; } = true;

    public int LoraRank { get; init; } = 16;

    /// <summary>adamw or adamw_8bit.</summary>
    public string Optimizer { get; init; } = "adamw_8bit";

    /// <summary>Rows of the LM head's input per loss chunk (<see cref="CausalLmLoss"/>).</summary>
    public int LossChunkTokens { get; init; } = CausalLmLoss.DefaultChunkTokens;

    /// <summary>auto (cuda if present, else cpu), cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>With checkpointing, checkpoint only the first N decoder layers ("N"), or "auto" (<see cref="Training.TrainingOptions.CheckpointLayers"/>); null: all.</summary>
    public string? CheckpointLayers { get; init; }

    /// <summary>Checkpointed layers whose MLP gate and up outputs go to host memory for their recompute (<see cref="Training.TrainingOptions.OffloadMlpLayers"/>); 0: none.</summary>
    public int OffloadMlpLayers { get; init; }

    /// <summary>With checkpoint_layers auto, the GPU memory (GiB, NVML process) the run may reach (<see cref="Training.TrainingOptions.GpuMemoryBudgetGib"/>); null: free memory.</summary>
    public double? GpuMemoryBudgetGib { get; init; }

    /// <summary>Keep the frozen input embedding table in host memory (<see cref="Models.CausalLM.KeepEmbeddingOnHost"/>).</summary>
    public bool EmbeddingOnHost { get; init; }

    /// <summary>Where to write a <see cref="Diagnostics.StepTrace"/> of the first measured step (null: no trace).</summary>
    public string? TracePath { get; init; }

    /// <summary>Whether each trace mark waits for the GPU (section times are GPU times) or not (host times).</summary>
    public bool TraceSynchronize { get; init; } = true;

    public int Seed { get; init; } = 3407;

    public ModelConfig ResolveConfig() => Config ?? BenchmarkModels.Config(Model);

    public string ModelName => Config is null ? Model : $"custom ({Config.Architecture}, hidden {Config.HiddenSize})";

    /// <summary>Checks ranges; throws <see cref="SharpTuneException"/> with one line naming the option.</summary>
    public BenchmarkOptions Validated()
    {
        _ = ResolveConfig();
        Require(Mode is "lora" or "qlora", $"--mode must be lora or qlora, not '{Mode}'");
        Require(Batch > 0, $"--batch must be positive, not {Batch}");
        Require(Sequence >= 2, $"--seq must be at least 2, not {Sequence}");
        Require(Steps > 0, $"--steps must be positive, not {Steps}");
        Require(Warmup >= 0, $"--warmup must not be negative, not {Warmup}");
        Require(LoraRank > 0, $"--rank must be positive, not {LoraRank}");
        Require(Optimizer is "adamw" or "adamw_8bit", $"--optimizer must be adamw or adamw_8bit, not '{Optimizer}'");
        Require(LossChunkTokens > 0, $"--loss-chunk must be positive, not {LossChunkTokens}");
        Require(Training.CheckpointLayersValue.TryParse(CheckpointLayers, out _), $"--checkpoint-layers must be a number of layers or auto, not '{CheckpointLayers}'");
        Require(!Training.CheckpointLayersValue.IsAuto(CheckpointLayers) || Warmup >= 1,
            "--checkpoint-layers auto decides after the first step: give --warmup 1 or more, so the measured steps are the chosen setting");
        Require(OffloadMlpLayers >= 0, $"--offload-mlp-layers must not be negative, not {OffloadMlpLayers}");
        Require(OffloadMlpLayers == 0 || Checkpointing != GradientCheckpointing.Off, "--offload-mlp-layers needs checkpointing (layer or offload)");
        Require(GpuMemoryBudgetGib is null || (GpuMemoryBudgetGib > 0 && Training.CheckpointLayersValue.IsAuto(CheckpointLayers)),
            "--memory-budget must be positive and goes with --checkpoint-layers auto");
        Require(TracePath is null || !Directory.Exists(TracePath), $"--trace {TracePath} is a directory; give a file name");
        return this;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new SharpTuneException("bench: " + message);
        }
    }
}
