using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpTune.Benchmarks;

/// <summary>
/// What one benchmark measured. Step times exclude warm-up steps. MFU uses the dense-parameter estimate
/// <c>FLOPs per step = 6 * N_dense * tokens</c> (2·N·tokens forward + 4·N·tokens backward, attention's
/// sequence-squared term left out, recomputation under checkpointing not counted as useful work) over the GPU's
/// dense bf16 peak.
/// </summary>
public sealed record BenchmarkResult(
    string Model,
    string Mode,
    int Batch,
    int Sequence,
    string Checkpointing,
    bool Kernels,
    string Optimizer,
    string Device,
    string? GpuName,
    long DenseParameters,
    long TrainableParameters,
    int WarmupSteps,
    IReadOnlyList<double> StepSeconds,
    double MedianStepSeconds,
    double TokensPerSecond,
    double FlopsPerToken,
    double? PeakTflops,
    double? Mfu,
    long? PeakGpuMemoryBytes,
    double FinalLoss,
    string SharpTuneVersion)
{
    /// <summary>Where the input embedding table was: "device" or "host".</summary>
    public string Embedding { get; init; } = "device";

    /// <summary>With checkpointing, how many decoder layers were checkpointed (null: all).</summary>
    public int? CheckpointLayers { get; init; }

    /// <summary>Checkpointed layers whose MLP gate and up outputs went to host memory for their recompute (0: none).</summary>
    public int OffloadMlpLayers { get; init; }

    /// <summary>With checkpoint_layers auto: the GPU memory budget in GiB (null: the free memory).</summary>
    public double? GpuMemoryBudgetGib { get; init; }

    /// <summary>With <see cref="OffloadMlpLayers"/>: bytes the last step's forward sent to host memory (one micro-batch per step here; null: off).</summary>
    public long? OffloadedBytesPerStep { get; init; }

    /// <summary>Rows of the LM head's input per loss chunk.</summary>
    public int LossChunkTokens { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes the JSON to a temp file beside <paramref name="path"/>, then renames it.</summary>
    public void WriteJson(string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp";
        File.WriteAllText(temp, ToJson());
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>A two-column plain-text table of the settings and results.</summary>
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<(string, string)>
        {
            ("model", Model),
            ("mode", Mode),
            ("batch x seq", $"{Batch} x {Sequence}"),
            ("checkpointing", (CheckpointLayers is { } n && Checkpointing != "none" ? $"{Checkpointing} (first {n} layers)" : Checkpointing)
                + (GpuMemoryBudgetGib is { } budget ? $", auto within {budget.ToString("0.##", inv)} GiB" : "")),
            ("MLP offload", OffloadMlpLayers > 0
                ? $"{OffloadMlpLayers} checkpointed layers ({(OffloadedBytesPerStep is { } sent ? (sent / (1024.0 * 1024 * 1024)).ToString("0.00", inv) : "?")} GiB to host memory per step)"
                : "off"),
            ("kernels", Kernels ? "on" : "off"),
            ("optimizer", Optimizer),
            ("embedding table", Embedding),
            ("loss chunk", $"{LossChunkTokens} rows"),
            ("device", GpuName is null ? Device : $"{Device} ({GpuName})"),
            ("dense params", (DenseParameters / 1e9).ToString("0.000", inv) + " B"),
            ("trainable params", (TrainableParameters / 1e6).ToString("0.00", inv) + " M"),
            ("steps (measured)", $"{StepSeconds.Count} (+{WarmupSteps} warm-up)"),
            ("median step", (MedianStepSeconds * 1000).ToString("0.0", inv) + " ms"),
            ("tokens/s", TokensPerSecond.ToString("0", inv)),
            ("MFU", Mfu is null ? "n/a" : (Mfu.Value * 100).ToString("0.0", inv) + $" % of {PeakTflops!.Value.ToString("0", inv)} TFLOP/s (6*N_dense*tokens)"),
            ("peak GPU memory", PeakGpuMemoryBytes is null ? "n/a" : (PeakGpuMemoryBytes.Value / (1024.0 * 1024 * 1024)).ToString("0.00", inv) + " GiB (NVML, process)"),
            ("final loss", FinalLoss.ToString("0.0000", inv)),
        };
        int width = rows.Max(r => r.Item1.Length);
        var text = new StringBuilder();
        foreach (var (name, value) in rows)
        {
            text.Append(name.PadRight(width)).Append("  ").AppendLine(value);
        }

        return text.ToString();
    }
}
