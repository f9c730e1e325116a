using System.Text.Json.Nodes;
using SharpTune.Distributed;
using SharpTune.Distributed.Launch;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;
using SharpTune.Training;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// TrainLoRA: supervised fine-tuning of a LoRA adapter on the (NF4) base with <see cref="TrainingRun"/>; the PEFT
/// adapter (<c>adapter/</c>) and the trainer's JSONL log. The trainer's checkpoints live in the stage's work
/// directory, which survives an interrupted run: starting the stage again resumes from the newest checkpoint.
/// </summary>
public sealed class TrainLoraStage : IPipelineStage
{
    public const string AdapterFolder = "adapter";

    public string Name => StageNames.TrainLoRA;

    public string Description => "Train the LoRA adapter (SFT) and save it in PEFT format with the training log.";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.QuantizeBase, StageNames.FormatPrompts];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["lora"] = StageSettings.ToJson(pipeline.Lora);
        settings["training"] = StageSettings.ToJson(pipeline.Training);
        settings["max_seq_length"] = pipeline.Prompt.MaxSequenceLength;
        return settings;
    }

    /// <summary>The trainer's settings for a pipeline, given its inputs' folders.</summary>
    public static TrainingOptions Options(PipelineDefinition pipeline, string model, string? quantizedModel, string dataset, string outputDirectory)
    {
        var t = pipeline.Training;
        return new TrainingOptions
        {
            Model = model,
            QuantizedModel = quantizedModel,
            Dataset = dataset,
            OutputDir = outputDirectory,
            Quantization = pipeline.Quantize.Type,
            LoraRank = pipeline.Lora.Rank,
            LoraAlpha = pipeline.Lora.Alpha,
            LoraDropout = pipeline.Lora.Dropout,
            TargetModules = [.. pipeline.Lora.Targets],
            BatchSize = t.BatchSize,
            GradientAccumulation = t.GradientAccumulation,
            MaxSteps = t.Steps,
            LearningRate = t.LearningRate,
            WarmupSteps = t.WarmupSteps,
            Scheduler = Enum.Parse<LearningRateScheduleKind>(t.Scheduler, ignoreCase: true),
            Optimizer = t.Optimizer,
            WeightDecay = t.WeightDecay,
            MaxSequenceLength = pipeline.Prompt.MaxSequenceLength,
            Precision = t.Precision,
            GradientCheckpointing = t.GradientCheckpointing ? GradientCheckpointing.On : GradientCheckpointing.Off,
            Seed = t.Seed,
            Device = t.Device,
            Gpus = t.Gpus,
            EmbeddingOnHost = t.EmbeddingOnHost,
            CheckpointLayers = t.CheckpointLayers,
            OffloadMlpLayers = t.OffloadMlpLayers,
            GpuMemoryBudgetGib = t.GpuMemoryBudgetGib,
            Resume = true,
        };
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        string model = context.Input(StageNames.FetchModel).Output("model")!;
        string? quantized = context.Input(StageNames.QuantizeBase).Output("model");
        string dataset = context.Input(StageNames.FormatPrompts).Output("dataset")!;
        var options = Options(context.Pipeline, model, quantized, dataset, Path.Combine(context.WorkDirectory, "train"));
        Runtime.TorchRuntime.Initialize(context.Runtime);
        var result = options.Gpus > 1 && !DistributedEnvironment.FromEnvironment().IsDistributed
            ? TrainOnGpus(context, options, cancellationToken)
            : TrainInProcess(context, options, cancellationToken);
        if (result.ResumedFromStep > 0)
        {
            context.Log.WriteLine($"  resumed from the checkpoint at step {result.ResumedFromStep} of an interrupted run");
        }

        CopyFolder(result.AdapterDirectory, Path.Combine(context.OutputDirectory, AdapterFolder));
        File.Copy(Path.Combine(options.OutputDir, SftTrainer.LogFileName), context.OutputPath(SftTrainer.LogFileName));
        context.AddOutput("adapter", AdapterFolder);
        context.AddOutput("log", SftTrainer.LogFileName);
        return Task.CompletedTask;
    }

    private static TrainingResult TrainInProcess(StageContext context, TrainingOptions options, CancellationToken cancellationToken)
    {
        var summary = TrainingRun.Run(options, context.Progress, cancellationToken);
        var steps = summary.Result.Steps;
        context.Log.WriteLine($"  {steps.Count} steps on {summary.Device} ({summary.DType}), {summary.TrainableParameters / 1e6:0.00}M trainable parameters, " +
            $"loss {LossRange(steps)}, {summary.TrainTime.TotalSeconds:0.0} s");
        return summary.Result;
    }

    /// <summary>
    /// <c>gpus</c> &gt; 1: runs <c>sharptune train --config</c> on this stage's settings as one process per GPU (rank 0
    /// writes the log, checkpoints and adapter into the work directory) and reads the result back from there.
    /// </summary>
    private static TrainingResult TrainOnGpus(StageContext context, TrainingOptions options, CancellationToken cancellationToken)
    {
        string config = Path.Combine(context.WorkDirectory, "train.yaml");
        options.SaveYaml(config);
        List<string> arguments = context.Runtime.LibTorchDirectory is { } libTorch ? ["--libtorch", libTorch] : [];
        arguments.AddRange(["train", "--config", config]);
        context.Log.WriteLine($"  training on {options.Gpus} GPUs: sharptune {string.Join(' ', arguments)}");
        var job = LocalLauncher.RunThisToolOnGpus(options.Gpus, arguments, context.Log, context.Log, cancellationToken)!;
        if (!job.Succeeded)
        {
            throw new DistributedException(job.FailureMessage!, job.ExitCode);
        }

        var steps = SftTrainer.ReadLog(Path.Combine(options.OutputDir, SftTrainer.LogFileName)).ToList();
        context.Log.WriteLine($"  {steps.Count} steps on {options.Gpus} ranks in {job.Duration.TotalSeconds:0.0} s, " +
            $"loss {LossRange(steps)}");
        return new TrainingResult(steps, Path.Combine(options.OutputDir, SftTrainer.AdapterDirectoryName), 0, steps.Select(s => s.PeakGpuMemoryBytes).Max());
    }

    private static string LossRange(IReadOnlyList<TrainingStepMetrics> steps) =>
        steps.Count > 0 ? $"{steps[0].Loss:0.0000} -> {steps[^1].Loss:0.0000}" : "n/a";

    private static void CopyFolder(string source, string target)
    {
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string path = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Copy(file, path, overwrite: true);
        }
    }
}
