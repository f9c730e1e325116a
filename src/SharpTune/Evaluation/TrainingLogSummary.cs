using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Evaluation;

/// <summary>
/// The training figures of a run, read from the trainer's JSONL log (<c>train_log.jsonl</c>: one object per
/// optimizer step with <c>step</c>, <c>loss</c>, <c>lr</c>, <c>tokens_per_s</c>, <c>step_s</c>,
/// <c>peak_gpu_memory_bytes</c>): the loss curve, the median step time, tokens/s and the peak GPU memory.
/// </summary>
public sealed record TrainingLogSummary(IReadOnlyList<TrainingStepRecord> Steps)
{
    public int StepCount => Steps.Count;

    public double FirstLoss => Steps.Count > 0 ? Steps[0].Loss : double.NaN;

    public double FinalLoss => Steps.Count > 0 ? Steps[^1].Loss : double.NaN;

    /// <summary>Median seconds per optimizer step, leaving out the first step (warm-up, compilation) when there are more.</summary>
    public double MedianStepSeconds => Median(Steady.Select(s => s.StepSeconds));

    public double MedianTokensPerSecond => Median(Steady.Select(s => s.TokensPerSecond));

    /// <summary>The highest peak GPU memory of any step, or null when training ran on the CPU.</summary>
    public long? PeakGpuMemoryBytes => Steps.Select(s => s.PeakGpuMemoryBytes).Where(b => b is not null).DefaultIfEmpty(null).Max();

    private IEnumerable<TrainingStepRecord> Steady => Steps.Count > 1 ? Steps.Skip(1) : Steps;

    public static TrainingLogSummary Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: training log not found");
        }

        var steps = new List<TrainingStepRecord>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                var row = JsonNode.Parse(line)?.AsObject() ?? throw new FormatException("not an object");
                if (row["skipped"] is JsonValue skipped && skipped.GetValue<bool>())
                {
                    continue;
                }

                steps.Add(new TrainingStepRecord(
                    Required(row, "step").GetValue<int>(),
                    Required(row, "loss").GetValue<double>(),
                    row["lr"]?.GetValue<double>() ?? double.NaN,
                    row["tokens_per_s"]?.GetValue<double>() ?? double.NaN,
                    row["step_s"]?.GetValue<double>() ?? double.NaN,
                    row["peak_gpu_memory_bytes"]?.GetValue<long?>()));
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                throw new SharpTuneException($"{path}:{lineNumber}: not a training log row ({e.Message})");
            }
        }

        return new TrainingLogSummary(steps);
    }

    private static JsonNode Required(JsonObject row, string name) => row[name] ?? throw new FormatException($"'{name}' is missing");

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
