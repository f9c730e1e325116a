using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Data.Templates;
using SharpTune.Evaluation;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune evaluate</c>: the Evaluate stage on folders you name: held-out loss and perplexity of a base and a
/// tuned model, their answers side by side, and report.md with the loss curve from a training log.
/// </summary>
public static class EvaluateCommand
{
    public static Command Create(CliContext context)
    {
        var baseModel = new Option<string>("--base") { Description = "The base model folder (Hugging Face layout; its tokenizer is used).", Required = true };
        var tuned = new Option<string>("--tuned") { Description = "The tuned model folder (base + adapter merged, e.g. by 'sharptune merge').", Required = true };
        var heldOut = new Option<string>("--held-out") { Description = "Held-out rows in the training schema (JSONL with the template's fields), for the loss.", Required = true };
        var eval = new Option<string>("--questions") { Description = "Held-out questions (JSONL: instruction, and reference or output).", DefaultValueFactory = _ => "datasets/medical/eval.jsonl" };
        var log = new Option<string>("--log") { Description = "The trainer's JSONL log (train_log.jsonl) for the loss curve and training figures.", Required = true };
        var output = new Option<string>("--out") { Description = "Where report.md, loss-curve.png and evaluation.json go.", DefaultValueFactory = _ => "out/evaluate" };
        var template = new Option<string>("--template") { Description = $"The prompt template used in training: {string.Join(", ", PromptTemplateCatalog.Names)}.", DefaultValueFactory = _ => "medical-cot" };
        var maxLength = new Option<int>("--max-seq-length") { Description = "Tokens per held-out row, as in training.", DefaultValueFactory = _ => 2048 };
        var maxQuestions = new Option<int>("--max-questions") { Description = "Questions asked from the --questions file.", DefaultValueFactory = _ => 5 };
        var questions = new Option<string[]>("--question") { Description = "An extra question for both models (repeatable)." };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Longest answer, in tokens (greedy decoding).", DefaultValueFactory = _ => 256 };
        var device = new Option<string>("--device") { Description = "auto, cpu or cuda.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        var precision = new Option<string>("--precision") { Description = "auto (bf16 on CUDA, fp32 on CPU), bf16, fp16 or fp32.", DefaultValueFactory = _ => "auto" };
        precision.AcceptOnlyFromAmong("auto", "bf16", "fp16", "fp32");
        var title = new Option<string>("--title") { Description = "The report's heading.", DefaultValueFactory = _ => "evaluation" };

        var command = new Command("evaluate", "Compare a base and a tuned model on held-out rows (loss, perplexity, answers) and write report.md with the loss curve.")
        {
            baseModel, tuned, heldOut, eval, log, output, template, maxLength, maxQuestions, questions, maxNewTokens, device, precision, title,
        };
        template.AcceptOnlyFromAmong([.. PromptTemplateCatalog.Names]);
        command.SetAction((parsed, cancellationToken) =>
        {
            using var progress = new ConsoleProgress(context.Error, interactive: ReferenceEquals(context.Error, Console.Error) ? null : false);
            var options = new BeforeAfterOptions(parsed.GetValue(title)!, parsed.GetValue(baseModel)!, parsed.GetValue(baseModel)!, parsed.GetValue(tuned)!,
                parsed.GetValue(heldOut)!, parsed.GetValue(eval)!, parsed.GetValue(template)!, parsed.GetValue(log)!)
            {
                MaxSequenceLength = parsed.GetValue(maxLength),
                MaxQuestions = parsed.GetValue(maxQuestions),
                Questions = parsed.GetValue(questions) ?? [],
                MaxNewTokens = parsed.GetValue(maxNewTokens),
                Device = parsed.GetValue(device)!,
                Precision = parsed.GetValue(precision)!,
            };
            var report = BeforeAfterEvaluation.Run(options, GlobalOptions.RuntimeOptions(parsed), context.Error, progress, cancellationToken);
            string directory = parsed.GetValue(output)!;
            EvaluationReportWriter.Write(report, directory);
            context.Out.WriteLine($"held-out loss  {report.Before.Loss:0.0000} -> {report.After.Loss:0.0000}  (perplexity {report.Before.Perplexity:0.00} -> {report.After.Perplexity:0.00})");
            context.Out.WriteLine($"report         {Path.GetFullPath(Path.Combine(directory, EvaluationReportWriter.MarkdownFile))}");
            return Task.FromResult(0);
        });
        return command;
    }
}
