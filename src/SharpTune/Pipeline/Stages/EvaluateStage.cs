using System.Text.Json.Nodes;
using SharpTune.Data.Templates;
using SharpTune.Evaluation;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// Evaluate: held-out loss and perplexity of the base and of the tuned model (base + adapter, merged) on the
/// evaluation rows, their greedy answers to the held-out questions side by side, and <c>report/</c>: report.md,
/// the loss-curve PNG and evaluation.json, with the training figures from TrainLoRA's log.
/// </summary>
public sealed class EvaluateStage : IPipelineStage
{
    public const string ReportFolder = "report";

    public string Name => StageNames.Evaluate;

    public string Description => "Compare the base and the tuned model on held-out rows; write report.md with the loss curve.";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.FetchDataset, StageNames.TrainLoRA];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["evaluate"] = StageSettings.ToJson(pipeline.Evaluate);
        settings["file"] = StageSettings.File(pipeline.Evaluate.File, "evaluate.file");
        settings["template"] = PromptTemplateCatalog.Get(pipeline.Prompt.Template).Fingerprint;
        settings["max_seq_length"] = pipeline.Prompt.MaxSequenceLength;
        settings["device"] = pipeline.Training.Device;
        settings["precision"] = pipeline.Training.Precision;
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var pipeline = context.Pipeline;
        string baseDirectory = context.Input(StageNames.FetchModel).Output("model")!;
        var train = context.Input(StageNames.TrainLoRA);
        string log = train.Output("log") ?? throw new SharpTuneException($"{train.Directory}: TrainLoRA recorded no training log");
        string tunedDirectory = AdapterMerge.Merge(baseDirectory, train.Output("adapter")!, Path.Combine(context.WorkDirectory, "merged"), context);
        var model = pipeline.Model;
        var options = new BeforeAfterOptions(
            pipeline.Name,
            model.HubId ?? $"{model.Init!.Size} {model.Init.Arch} with random weights (seed {model.Init.Seed})",
            baseDirectory,
            tunedDirectory,
            context.Input(StageNames.FetchDataset).Output("held_out")
                ?? throw new SharpTuneException("Evaluate needs held-out rows for the loss: set dataset.rows and dataset.held_out (rows after the training rows)"),
            pipeline.Evaluate.File,
            pipeline.Prompt.Template,
            log)
        {
            MaxSequenceLength = pipeline.Prompt.MaxSequenceLength,
            MaxQuestions = pipeline.Evaluate.MaxQuestions,
            Questions = pipeline.Evaluate.Questions,
            MaxNewTokens = pipeline.Evaluate.MaxNewTokens,
            Device = pipeline.Training.Device,
            Precision = pipeline.Training.Precision,
            Settings = Settings(pipeline),
        };
        var report = BeforeAfterEvaluation.Run(options, context.Runtime, context.Log, context.Progress, cancellationToken);
        EvaluationReportWriter.Write(report, Path.Combine(context.OutputDirectory, ReportFolder));
        context.AddOutput("report_folder", ReportFolder);
        context.AddOutput("report", $"{ReportFolder}/{EvaluationReportWriter.MarkdownFile}");
        context.AddOutput("loss_curve", $"{ReportFolder}/{EvaluationReportWriter.LossCurveFile}");
        context.Log.WriteLine($"  held-out loss {report.Before.Loss:0.0000} -> {report.After.Loss:0.0000} (perplexity {report.Before.Perplexity:0.00} -> {report.After.Perplexity:0.00})");
        return Task.CompletedTask;
    }

    private static List<KeyValuePair<string, string>> Settings(PipelineDefinition p) =>
    [
        new("quantization", p.Quantize.Type),
        new("LoRA r / alpha / dropout", $"{p.Lora.Rank} / {p.Lora.Alpha} / {p.Lora.Dropout}"),
        new("LoRA targets", string.Join(", ", p.Lora.Targets)),
        new("batch × accumulation", $"{p.Training.BatchSize} × {p.Training.GradientAccumulation}"),
        new("learning rate", p.Training.LearningRate.ToString("G", System.Globalization.CultureInfo.InvariantCulture)),
        new("optimizer", p.Training.Optimizer),
        new("max sequence length", p.Prompt.MaxSequenceLength.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("seed", p.Training.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];
}
