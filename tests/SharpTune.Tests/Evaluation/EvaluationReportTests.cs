using System.Buffers.Binary;
using System.Text.Json.Nodes;
using SharpTune.Evaluation;
using SkiaSharp;

namespace SharpTune.Tests.Evaluation;

public sealed class EvaluationReportTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "sharptune-report-" + Guid.NewGuid().ToString("N")[..12]);

    public EvaluationReportTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WriteLog(params string[] lines)
    {
        string path = Path.Combine(_directory, "train_log.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private static string Step(int step, double loss, double seconds, double tokensPerSecond, long? peak = null, bool skipped = false) =>
        new JsonObject
        {
            ["step"] = step, ["loss"] = loss, ["lr"] = 2e-4, ["grad_norm"] = 0.5, ["tokens"] = 1000, ["tokens_per_s"] = tokensPerSecond,
            ["step_s"] = seconds, ["peak_gpu_memory_bytes"] = peak, ["skipped"] = skipped,
        }.ToJsonString();

    [Fact]
    public void The_training_log_gives_the_loss_curve_median_step_time_tokens_per_second_and_peak_memory()
    {
        var log = TrainingLogSummary.Read(WriteLog(
            Step(1, 2.5, 9.0, 100, 5L << 30),                 // the first step (warm-up) is left out of the medians
            Step(2, 2.0, 1.0, 1000, 6L << 30),
            Step(3, 1.8, 3.0, 900, 6L << 30, skipped: true),  // an fp16 overflow step: not a step of the curve
            "",
            Step(3, 1.5, 2.0, 800, 7L << 30),
            Step(4, 1.2, 1.5, 1200, 6L << 30)));
        Assert.Equal([1, 2, 3, 4], log.Steps.Select(s => s.Step));
        Assert.Equal((2.5, 1.2), (log.FirstLoss, log.FinalLoss));
        Assert.Equal(1.5, log.MedianStepSeconds);
        Assert.Equal(1000, log.MedianTokensPerSecond);
        Assert.Equal(7L << 30, log.PeakGpuMemoryBytes);

        var cpu = TrainingLogSummary.Read(WriteLog(Step(1, 2.0, 1, 10)));
        Assert.Null(cpu.PeakGpuMemoryBytes);
        Assert.Equal(1, cpu.MedianStepSeconds);
    }

    [Fact]
    public void A_bad_log_row_names_the_file_and_line()
    {
        string path = WriteLog(Step(1, 2.0, 1, 10), "{\"step\": 2}");
        var error = Assert.Throws<SharpTuneException>(() => TrainingLogSummary.Read(path));
        Assert.Equal($"{path}:2: not a training log row ('loss' is missing)", error.Message);
    }

    [Fact]
    public void The_report_has_loss_and_perplexity_before_and_after_the_training_figures_and_the_answers_side_by_side()
    {
        var training = TrainingLogSummary.Read(WriteLog(Enumerable.Range(1, 20).Select(i => Step(i, 3.0 / i, 0.5, 4000, 6L << 30)).ToArray()));
        var report = new EvaluationReport(
            "medical-qlora",
            "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            HeldOutLoss.FromSum(2.5 * 400, 400, 5),
            HeldOutLoss.FromSum(1.25 * 400, 400, 5),
            [new AnswerComparison("我最近总是感到疲劳,可能是什么原因?", "base | answer\nline 2", "<思考> tuned </思考> 答案", "参考")],
            training,
            [new("LoRA r / alpha", "16 / 16"), new("steps", "75")],
            "cuda:0 (NVIDIA H100)");
        EvaluationReportWriter.Write(report, _directory);

        string md = File.ReadAllText(Path.Combine(_directory, "report.md"));
        Assert.Contains($"| base | 2.5000 | {Math.Exp(2.5):0.00} | 400 | 5 |", md);
        Assert.Contains($"| tuned | 1.2500 | {Math.Exp(1.25):0.00} | 400 | 5 |", md);
        Assert.Contains("Tuning lowered the held-out loss by 1.2500 (perplexity 12.18 → 3.49).", md);
        Assert.Contains("![training loss](loss-curve.png)", md);
        Assert.Contains("| loss, first → last step | 3.0000 → 0.1500 |", md);
        Assert.Contains("| step time (median) | 0.500 s |", md);
        Assert.Contains("| tokens/s (median) | 4000 |", md);
        Assert.Contains("| peak GPU memory | 6.00 GiB |", md);
        Assert.Contains("| LoRA r / alpha | 16 / 16 |", md);
        Assert.Contains("### 1. 我最近总是感到疲劳,可能是什么原因?", md);
        Assert.Contains("| base \\| answer<br>line 2 | <思考> tuned </思考> 答案 |", md);
        Assert.Contains("Reference answer: 参考", md);

        var numbers = JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, "evaluation.json")))!;
        Assert.Equal(Math.Exp(1.25), (double)numbers["after"]!["perplexity"]!, 12);
        Assert.Equal(20, (int)numbers["training"]!["steps"]!);
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp*"));
    }

    [Fact]
    public void The_loss_curve_is_a_png_with_the_curve_drawn_on_it()
    {
        string empty = Path.Combine(_directory, "empty.png");
        string curve = Path.Combine(_directory, "curve.png");
        LossCurvePlot.Save(new TrainingLogSummary([]), empty);
        LossCurvePlot.Save(TrainingLogSummary.Read(WriteLog(Enumerable.Range(1, 30).Select(i => Step(i, 4.0 / i, 1, 1)).ToArray())), curve);

        byte[] png = File.ReadAllBytes(curve);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal((800, 450), (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20))));

        // The curve adds saturated (coloured) pixels that a plot with only axes and labels does not have.
        Assert.True(ColouredPixels(curve) > ColouredPixels(empty) + 500, $"{ColouredPixels(curve)} vs {ColouredPixels(empty)}");
    }

    private static int ColouredPixels(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        int count = 0;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                var p = bitmap.GetPixel(x, y);
                if (Math.Max(p.Red, Math.Max(p.Green, p.Blue)) - Math.Min(p.Red, Math.Min(p.Green, p.Blue)) > 80)
                {
                    count++;
                }
            }
        }

        return count;
    }
}
