namespace SharpTune.Pipeline.Config;

/// <summary>
/// The supervised fine-tuning run: batch, accumulation, steps, optimizer, schedule, precision, seed, and the GPUs of
/// this host to train on (<c>gpus</c>, one process each; <c>batch_size</c> is per GPU), and whether the frozen input
/// embedding table stays in host memory (<c>embedding_on_host</c>, meant to free 1 GB of GPU memory at 8B).
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
    bool EmbeddingOnHost = false)
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
            section.Bool("embedding_on_host", false));
        section.Finish();
        return settings;
    }
}
