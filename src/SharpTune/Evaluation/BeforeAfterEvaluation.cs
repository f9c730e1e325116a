using System.Text.Json.Nodes;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Data.Tokenized;
using SharpTune.Models;
using SharpTune.Models.Tokenization;
using SharpTune.Progress;
using SharpTune.Runtime;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.Evaluation;

/// <summary>
/// The base and the tuned model on the same held-out rows: loss and perplexity on the answers (the rows rendered
/// with the training template), and greedy answers to the questions. One model is in memory at a time.
/// </summary>
public static class BeforeAfterEvaluation
{
    public static EvaluationReport Run(BeforeAfterOptions options, TorchRuntimeOptions runtime, TextWriter log, IProgress<OperationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var training = TrainingLogSummary.Read(options.TrainingLog);
        var tokenizer = HfTokenizer.Load(options.BaseDirectory);
        var template = PromptTemplateCatalog.Get(options.Template, tokenizer);
        foreach (string file in (string[])[options.HeldOutFile, options.QuestionsFile])
        {
            if (!File.Exists(file))
            {
                throw new SharpTuneException($"{file}: not found");
            }
        }

        var heldOut = new JsonLinesSource(options.HeldOutFile).Read(new BadRowPolicy(skipBadRows: false), cancellationToken).ToList();
        var sampler = new SampleTokenizer(tokenizer, options.MaxSequenceLength);
        var samples = heldOut.Select(r => sampler.Tokenize(template.Render(r, FieldMapping.Identity)).Sample).ToList();
        var rows = new JsonLinesSource(options.QuestionsFile).Read(new BadRowPolicy(skipBadRows: false), cancellationToken).ToList();
        var questions = rows.Take(options.MaxQuestions)
            .Select(r => (Question: Field(r, "instruction"), Prompt: template.Render(QuestionRecord(Field(r, "instruction")), FieldMapping.Identity).PromptText,
                Reference: (string?)(r.Fields["reference"] ?? r.Fields["output"])?.ToString()))
            .Concat(options.Questions.Select(q => (Question: q, Prompt: template.Render(QuestionRecord(q), FieldMapping.Identity).PromptText, Reference: (string?)null)))
            .ToList();

        var (device, dtype) = ResolveDevice(options.Device, options.Precision, runtime);
        (HeldOutLoss Loss, IReadOnlyList<string> Answers) Measure(string directory, string label)
        {
            log.WriteLine($"  {label}: held-out loss on {samples.Count} rows, {questions.Count} answers ({device.type.ToString().ToLowerInvariant()}, {dtype})");
            using var model = CausalLM.Load(directory, dtype, device, progress);
            var loss = HeldOutLossEvaluator.Evaluate(model, samples, progress, cancellationToken);
            var answers = AnswerGenerator.Answer(model, tokenizer, directory, questions.Select(q => q.Prompt).ToList(), options.MaxNewTokens, cancellationToken);
            return (loss, answers);
        }

        var before = Measure(options.BaseDirectory, "base");
        var after = Measure(options.TunedDirectory, "tuned");
        return new EvaluationReport(
            options.Title,
            options.BaseModelName,
            before.Loss,
            after.Loss,
            questions.Select((q, i) => new AnswerComparison(q.Question, before.Answers[i], after.Answers[i], q.Reference)).ToList(),
            training,
            options.Settings,
            $"{device.type.ToString().ToLowerInvariant()}, {dtype.ToString().ToLowerInvariant()}");
    }

    /// <summary>The trainer's device and precision rules (<see cref="TrainingRun"/>), after loading libtorch.</summary>
    public static (Device Device, ScalarType DType) ResolveDevice(string device, string precision, TorchRuntimeOptions runtime)
    {
        TorchRuntime.Initialize(runtime);
        var target = TrainingRun.ResolveDevice(device);
        return (target, TrainingRun.ResolveDType(precision, target));
    }

    private static string Field(DataRecord record, string name) => record.Fields[name]?.ToString() ?? "";

    /// <summary>A row holding only the question; the answer fields are placeholders (only the prompt part is rendered).</summary>
    private static DataRecord QuestionRecord(string question) =>
        new("questions", 0, new JsonObject { ["instruction"] = question, ["input"] = "-", ["output"] = "-" });
}
