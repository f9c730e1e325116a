using SharpTune.Lora;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace SharpTune.Training;

/// <summary>
/// Settings of a supervised fine-tuning run. Bindable from YAML with snake_case keys (<c>max_steps: 75</c>); the
/// defaults are the reference run's (QLoRA r=16 on all seven projections, batch 2 x accumulation 4, lr 2e-4,
/// 8-bit AdamW, seed 3407, sequences up to 2048 tokens, gradient checkpointing).
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>HF model directory (config.json, safetensors, tokenizer files).</summary>
    public string? Model { get; init; }

    /// <summary>A directory written by <c>sharptune quantize</c>; used instead of quantizing <see cref="Model"/> again.</summary>
    public string? QuantizedModel { get; init; }

    /// <summary>Tokenized dataset directory (<c>sharptune data format</c>'s output).</summary>
    public string? Dataset { get; init; }

    /// <summary>Where checkpoints, the log and the final adapter go.</summary>
    public string OutputDir { get; init; } = "out/train";

    /// <summary>nf4 (QLoRA) or none (LoRA on a 16-bit base).</summary>
    public string Quantization { get; init; } = "nf4";

    public int LoraRank { get; init; } = 16;

    public double LoraAlpha { get; init; } = 16;

    public double LoraDropout { get; init; }

    public List<string> TargetModules { get; init; } = [.. LoraConfig.AllTargets];

    public bool UseRsLora { get; init; }

    public int BatchSize { get; init; } = 2;

    public int GradientAccumulation { get; init; } = 4;

    /// <summary>Optimizer steps to take; when 0, <see cref="Epochs"/> decides.</summary>
    public int MaxSteps { get; init; } = 75;

    public double Epochs { get; init; } = 1;

    public double LearningRate { get; init; } = 2e-4;

    public int WarmupSteps { get; init; } = 5;

    public LearningRateScheduleKind Scheduler { get; init; } = LearningRateScheduleKind.Linear;

    /// <summary>adamw (float32 moments) or adamw_8bit (block-wise 8-bit moments, bitsandbytes-style).</summary>
    public string Optimizer { get; init; } = "adamw_8bit";

    [YamlIgnore]
    public OptimizerKind OptimizerKind => Optimizer.Replace("-", "_", StringComparison.Ordinal).ToLowerInvariant() switch
    {
        "adamw" or "adamw_torch" => OptimizerKind.AdamW,
        "adamw_8bit" or "adamw8bit" or "paged_adamw_8bit" => OptimizerKind.AdamW8Bit,
        _ => throw new SharpTuneException($"training settings: optimizer must be adamw or adamw_8bit, not '{Optimizer}'"),
    };

    public double WeightDecay { get; init; } = 0.01;

    public double AdamBeta1 { get; init; } = 0.9;

    public double AdamBeta2 { get; init; } = 0.999;

    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Clip the gradients' global L2 norm to this (0: no clipping).</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    public int MaxSequenceLength { get; init; } = 2048;

    /// <summary>Take the loss on completion tokens only (the prompt is masked).</summary>
    public bool CompletionOnlyLoss { get; init; } = true;

    /// <summary>Concatenate short examples into sequences of up to <see cref="MaxSequenceLength"/>.</summary>
    public bool Packing { get; init; }

    /// <summary>auto (bf16 where the GPU has it, else fp16; fp32 on CPU), bf16, fp16 or fp32.</summary>
    public string Precision { get; init; } = "auto";

    public GradientCheckpointing GradientCheckpointing { get; init; } = GradientCheckpointing.On;

    /// <summary>
    /// With checkpointing, checkpoint only the first N decoder layers ("N"); the rest keep their activations, so their
    /// backward skips the recompute (faster) for their activations' memory. "auto": the first step checkpoints every
    /// layer, then as many of the last layers as fit in the GPU's free memory keep their activations
    /// (<see cref="KeptLayerBudget"/>; one GPU only). Null: every layer. With overlap_gradient_reduce, the kept layers'
    /// gradients are reduced after the backward, not during it.
    /// </summary>
    public string? CheckpointLayers { get; init; }

    /// <summary>
    /// With <c>checkpoint_layers: auto</c>: the GPU memory (GiB, as NVML counts this process: CUDA context and allocator
    /// reserve included) the run may reach; the layers that keep their activations fit in this less the first step's
    /// peak, as well as in the GPU's free memory. Null: the free memory alone decides.
    /// </summary>
    public double? GpuMemoryBudgetGib { get; init; }

    /// <summary><see cref="CheckpointLayers"/> is "auto".</summary>
    [YamlIgnore]
    public bool CheckpointLayersAuto => CheckpointLayersValue.IsAuto(CheckpointLayers);

    /// <summary><see cref="CheckpointLayers"/> as a number of layers; null for every layer or "auto".</summary>
    [YamlIgnore]
    public int? CheckpointLayerCount => CheckpointLayersValue.TryParse(CheckpointLayers, out int? count)
        ? count
        : throw new SharpTuneException($"checkpoint_layers must be a number of layers or auto, not '{CheckpointLayers}'");

    public int Seed { get; init; } = 3407;

    /// <summary>Write a checkpoint every N optimizer steps (0: only at the end).</summary>
    public int SaveSteps { get; init; } = 25;

    /// <summary>Keep at most this many checkpoints (0: keep all).</summary>
    public int SaveTotalLimit { get; init; } = 2;

    /// <summary>Continue from the newest checkpoint in <see cref="OutputDir"/>.</summary>
    public bool Resume { get; init; }

    /// <summary>auto, cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// GPUs of this host to train on, one process each (data parallel over NCCL). <see cref="BatchSize"/> is per
    /// GPU, so one optimizer step sees batch_size x gradient_accumulation x gpus sequences. Under an external
    /// launcher (torchrun, Slurm) the job's WORLD_SIZE decides and this is ignored.
    /// </summary>
    public int Gpus { get; init; } = 1;

    /// <summary>
    /// With more than one rank and gradient checkpointing: start reducing each decoder layer's LoRA gradients as soon
    /// as that layer's backward finishes in the step's last micro-batch, instead of after the whole backward. Off by
    /// default until it has run on GPUs (CPU ranks: tested).
    /// </summary>
    public bool OverlapGradientReduce { get; init; }

    /// <summary>
    /// Keep the frozen input embedding table in pinned host memory instead of on the GPU, meant to free vocab x hidden
    /// 16-bit values (1 GB for Llama-3-8B), for a host-side gather and copy of the batch's rows each forward.
    /// Not for models whose LM head shares the table (tie_word_embeddings). No effect on the CPU.
    /// </summary>
    public bool EmbeddingOnHost { get; init; }

    /// <summary>
    /// With checkpointing, this many of the checkpointed decoder layers send their MLP's gate and up outputs to pinned
    /// host memory during the forward pass and take them back for backward, so their recompute skips the layer's two
    /// largest GEMMs (<see cref="ActivationOffload"/>; gradients unchanged). The copies overlap the GPU's work; each
    /// layer costs batch x length x intermediate x 2 values of host memory in the compute dtype (235 MB at Llama-3-8B,
    /// 2 x 2048 tokens, bf16), rounded up to at most an eighth more. It pays where the host link keeps up with the forward pass (Llama-3-8B on an H200: 8-9 % faster steps
    /// for ~0.3 GiB more GPU memory); at the 1B shape it made steps slower, so it is off by default. Needs the fused
    /// LoRA MLP (CUDA kernels on, all three MLP projections adapted, no LoRA dropout). 0: off.
    /// </summary>
    public int OffloadMlpLayers { get; init; }

    /// <summary>Train on this many random tokens per sequence instead of a dataset (benchmarks); 0 = off.</summary>
    public int SyntheticTokens { get; init; }

    /// <summary>Rows of the LM head's input per loss chunk: at most this many rows of logits (and their gradient) exist at a time.</summary>
    public int LossChunkTokens { get; init; } = CausalLmLoss.DefaultChunkTokens;

    public LoraConfig ToLoraConfig() => new LoraConfig
    {
        Rank = LoraRank,
        Alpha = LoraAlpha,
        Dropout = LoraDropout,
        TargetModules = TargetModules,
        UseRsLora = UseRsLora,
        Seed = Seed,
        BaseModelNameOrPath = Model,
    }.Validated();

    /// <summary>Checks ranges; throws <see cref="SharpTuneException"/> naming the setting.</summary>
    public TrainingOptions Validated()
    {
        Require(BatchSize > 0, "batch_size must be positive");
        _ = CheckpointLayerCount;
        Require(!CheckpointLayersAuto || Gpus == 1, "checkpoint_layers: auto works on one GPU (gpus: 1); give a number of layers with more");
        Require(GpuMemoryBudgetGib is null || (GpuMemoryBudgetGib > 0 && CheckpointLayersAuto),
            "gpu_memory_budget_gib must be positive and works with checkpoint_layers: auto (it limits the layers that keep their activations)");
        Require(GradientAccumulation > 0, "gradient_accumulation must be positive");
        Require(OffloadMlpLayers >= 0, "offload_mlp_layers must not be negative");
        Require(OffloadMlpLayers == 0 || GradientCheckpointing != GradientCheckpointing.Off,
            "offload_mlp_layers works with gradient checkpointing (the offloaded activations replace part of a checkpointed layer's recompute)");
        Require(MaxSteps > 0 || Epochs > 0, "set max_steps or epochs");
        Require(LearningRate > 0, "learning_rate must be positive");
        Require(MaxSequenceLength > 1, "max_sequence_length must be at least 2");
        Require(WarmupSteps >= 0, "warmup_steps must not be negative");
        Require(Precision is "auto" or "bf16" or "fp16" or "fp32", $"precision must be auto, bf16, fp16 or fp32, not '{Precision}'");
        Require(Gpus is >= 1 and <= 64, "gpus must be between 1 and 64");
        Require(Quantization is "nf4" or "none", $"quantization must be nf4 or none, not '{Quantization}'");
        _ = ToLoraConfig();
        _ = OptimizerKind;
        return this;
    }

    /// <summary>Reads a YAML file of these settings (snake_case keys); unknown keys are an error naming the key.</summary>
    public static TrainingOptions LoadYaml(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: training config not found");
        }

        var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        try
        {
            return deserializer.Deserialize<TrainingOptions?>(File.ReadAllText(path)) ?? new TrainingOptions();
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            string why = (e.InnerException?.Message ?? e.Message).Split('\n')[0];
            throw new SharpTuneException($"{path}: line {e.Start.Line}: {why}");
        }
    }

    /// <summary>Writes these settings as YAML that <see cref="LoadYaml"/> reads back (temp file, then rename).</summary>
    public void SaveYaml(string path)
    {
        var serializer = new SerializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        string temp = path + ".tmp";
        File.WriteAllText(temp, serializer.Serialize(this));
        File.Move(temp, path, overwrite: true);
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new SharpTuneException("training settings: " + message);
        }
    }
}
