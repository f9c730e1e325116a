using System.Text.Json.Nodes;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Data.Tokenized;
using SharpTune.Evaluation;
using SharpTune.Models;
using SharpTune.Models.Tokenization;
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

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.TrainLoRA];

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
        var training = TrainingLogSummary.Read(train.Output("log") ?? throw new SharpTuneException($"{train.Directory}: TrainLoRA recorded no training log"));
        string tunedDirectory = AdapterMerge.Merge(baseDirectory, train.Output("adapter")!, Path.Combine(context.WorkDirectory, "merged"), context);

        var tokenizer = HfTokenizer.Load(baseDirectory);
        var template = PromptTemplateCatalog.Get(pipeline.Prompt.Template, tokenizer);
        var rows = new JsonLinesSource(pipeline.Evaluate.File).Read(new BadRowPolicy(skipBadRows: false), cancellationToken).ToList();
        var sampler = new SampleTokenizer(tokenizer, pipeline.Prompt.MaxSequenceLength);
        var samples = rows.Select(r => sampler.Tokenize(template.Render(r, FieldMapping.Identity)).Sample).ToList();
        var questions = rows.Take(pipeline.Evaluate.MaxQuestions)
            .Select(r => (Question: Field(r, "instruction"), Prompt: template.Render(r, FieldMapping.Identity).PromptText, Reference: (string?)Field(r, "output")))
            .Concat(pipeline.Evaluate.Questions.Select(q => (Question: q, Prompt: template.Render(QuestionRecord(q), FieldMapping.Identity).PromptText, Reference: (string?)null)))
            .ToList();

        var (device, dtype) = StageDevice.Resolve(pipeline.Training.Device, pipeline.Training.Precision, context.Runtime);
        (HeldOutLoss Loss, IReadOnlyList<string> Answers) Measure(string directory, string label)
        {
            context.Log.WriteLine($"  {label}: held-out loss on {samples.Count} rows, {questions.Count} answers");
            using var model = CausalLM.Load(directory, dtype, device, context.Progress);
            var loss = HeldOutLossEvaluator.Evaluate(model, samples, context.Progress, cancellationToken);
            var answers = AnswerGenerator.Answer(model, tokenizer, directory, questions.Select(q => q.Prompt).ToList(), pipeline.Evaluate.MaxNewTokens, cancellationToken);
            return (loss, answers);
        }

        var before = Measure(baseDirectory, "base");
        var after = Measure(tunedDirectory, "tuned");
        var report = new EvaluationReport(
            pipeline.Name,
            pipeline.Model.HubId ?? $"{pipeline.Model.Init!.Size} {pipeline.Model.Init.Arch} with random weights (seed {pipeline.Model.Init.Seed})",
            before.Loss,
            after.Loss,
            questions.Select((q, i) => new AnswerComparison(q.Question, before.Answers[i], after.Answers[i], q.Reference)).ToList(),
            training,
            Settings(pipeline),
            $"{device.type.ToString().ToLowerInvariant()}, {dtype}");
        EvaluationReportWriter.Write(report, Path.Combine(context.OutputDirectory, ReportFolder));
        context.AddOutput("report_folder", ReportFolder);
        context.AddOutput("report", $"{ReportFolder}/{EvaluationReportWriter.MarkdownFile}");
        context.AddOutput("loss_curve", $"{ReportFolder}/{EvaluationReportWriter.LossCurveFile}");
        context.Log.WriteLine($"  held-out loss {before.Loss.Loss:0.0000} -> {after.Loss.Loss:0.0000} (perplexity {before.Loss.Perplexity:0.00} -> {after.Loss.Perplexity:0.00})");
        return Task.CompletedTask;
    }

    private static string Field(DataRecord record, string name) => record.Fields[name]?.ToString() ?? "";

    private static DataRecord QuestionRecord(string question) =>
        new("evaluate.questions", 0, new JsonObject { ["instruction"] = question, ["input"] = "", ["output"] = "" });

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
