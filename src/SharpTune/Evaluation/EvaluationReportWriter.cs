using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpTune.Evaluation;

/// <summary>
/// Writes an <see cref="EvaluationReport"/>: <c>report.md</c> (held-out loss and perplexity before and after, the
/// training figures, the answers side by side), <c>loss-curve.png</c> (ScottPlot) and <c>evaluation.json</c> (the
/// numbers, for scripts). Each file is written to a temporary name and renamed.
/// </summary>
public static class EvaluationReportWriter
{
    public const string MarkdownFile = "report.md";
    public const string LossCurveFile = "loss-curve.png";
    public const string NumbersFile = "evaluation.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(EvaluationReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        LossCurvePlot.Save(report.Training, Path.Combine(directory, LossCurveFile));
        WriteText(Path.Combine(directory, MarkdownFile), Markdown(report));
        WriteText(Path.Combine(directory, NumbersFile), JsonSerializer.Serialize(new
        {
            report.Title,
            report.BaseModel,
            report.Device,
            Before = new { report.Before.Loss, report.Before.Perplexity, report.Before.Tokens, report.Before.Rows },
            After = new { report.After.Loss, report.After.Perplexity, report.After.Tokens, report.After.Rows },
            Training = new
            {
                Steps = report.Training.StepCount,
                report.Training.FirstLoss,
                report.Training.FinalLoss,
                report.Training.MedianStepSeconds,
                report.Training.MedianTokensPerSecond,
                report.Training.PeakGpuMemoryBytes,
            },
            report.Answers,
        }, Json));
    }

    /// <summary>The Markdown text of the report.</summary>
    public static string Markdown(EvaluationReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(c, $"# {report.Title}: evaluation");
        md.AppendLine();
        md.AppendLine(c, $"Base model: `{report.BaseModel}` · device: {report.Device}");
        md.AppendLine();
        md.AppendLine("## Held-out loss");
        md.AppendLine();
        md.AppendLine("| | loss | perplexity | tokens | rows |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        md.AppendLine(c, $"| base | {report.Before.Loss:0.0000} | {report.Before.Perplexity:0.00} | {report.Before.Tokens} | {report.Before.Rows} |");
        md.AppendLine(c, $"| tuned | {report.After.Loss:0.0000} | {report.After.Perplexity:0.00} | {report.After.Tokens} | {report.After.Rows} |");
        double change = report.After.Loss - report.Before.Loss;
        md.AppendLine();
        md.AppendLine(c, $"Tuning {(change <= 0 ? "lowered" : "raised")} the held-out loss by {Math.Abs(change):0.0000} " +
            $"(perplexity {report.Before.Perplexity:0.00} → {report.After.Perplexity:0.00}).");
        md.AppendLine();
        md.AppendLine("## Training");
        md.AppendLine();
        md.AppendLine(c, $"![training loss]({LossCurveFile})");
        md.AppendLine();
        md.AppendLine("| figure | value |");
        md.AppendLine("|---|---:|");
        var t = report.Training;
        md.AppendLine(c, $"| optimizer steps | {t.StepCount} |");
        md.AppendLine(c, $"| loss, first → last step | {t.FirstLoss:0.0000} → {t.FinalLoss:0.0000} |");
        md.AppendLine(c, $"| step time (median) | {Number(t.MedianStepSeconds, "0.000")} s |");
        md.AppendLine(c, $"| tokens/s (median) | {Number(t.MedianTokensPerSecond, "0")} |");
        md.AppendLine(c, $"| peak GPU memory | {(t.PeakGpuMemoryBytes is { } bytes ? $"{bytes / (double)(1L << 30):0.00} GiB" : "n/a (CPU)")} |");
        foreach (var (name, value) in report.Settings)
        {
            md.AppendLine(c, $"| {Cell(name)} | {Cell(value)} |");
        }

        md.AppendLine();
        md.AppendLine("## Answers before and after tuning");
        md.AppendLine();
        if (report.Answers.Count == 0)
        {
            md.AppendLine("(no held-out questions)");
        }

        int index = 1;
        foreach (var answer in report.Answers)
        {
            md.AppendLine(c, $"### {index++}. {SingleLine(answer.Question)}");
            md.AppendLine();
            md.AppendLine("| base | tuned |");
            md.AppendLine("|---|---|");
            md.AppendLine(c, $"| {Cell(answer.BaseAnswer)} | {Cell(answer.TunedAnswer)} |");
            if (answer.Reference is { Length: > 0 } reference)
            {
                md.AppendLine();
                md.AppendLine(c, $"Reference answer: {SingleLine(reference)}");
            }

            md.AppendLine();
        }

        return md.ToString();
    }

    private static string Number(double value, string format) => double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    private static string SingleLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Text safe inside a Markdown table cell: no pipes or line breaks.</summary>
    private static string Cell(string text) => text.Length == 0 ? "(empty)" : text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings("<br>").Trim();

    private static void WriteText(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text, new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
    }
}
