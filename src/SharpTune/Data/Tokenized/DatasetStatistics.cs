using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SharpTune.Data.Tokenized;

/// <summary>Rows, tokens, truncation, skipped bad rows and a length histogram of a tokenized dataset (saved as stats.json).</summary>
public sealed class DatasetStatistics
{
    public const string FileName = "stats.json";
    private static readonly int[] BucketEdges = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

    public long Rows { get; set; }
    public long Tokens { get; set; }
    public long CompletionTokens { get; set; }
    public long Truncated { get; set; }
    public long SkippedBadRows { get; set; }
    public IList<string> BadRowMessages { get; set; } = [];
    public int MinLength { get; set; }
    public int MaxLength { get; set; }
    public double MeanLength => Rows == 0 ? 0 : (double)Tokens / Rows;

    /// <summary>Rows per length bucket, keyed "≤N" (and "&gt;32768").</summary>
    public SortedDictionary<int, long> Histogram { get; set; } = [];

    public void Add(TokenizedSample sample, bool truncated)
    {
        MinLength = Rows == 0 ? sample.Length : Math.Min(MinLength, sample.Length);
        MaxLength = Math.Max(MaxLength, sample.Length);
        Rows++;
        Tokens += sample.Length;
        CompletionTokens += sample.CompletionTokens;
        Truncated += truncated ? 1 : 0;
        int edge = BucketEdges.FirstOrDefault(e => sample.Length <= e, int.MaxValue);
        Histogram[edge] = Histogram.GetValueOrDefault(edge) + 1;
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        rows = Rows,
        tokens = Tokens,
        completion_tokens = CompletionTokens,
        truncated = Truncated,
        skipped_bad_rows = SkippedBadRows,
        bad_rows = BadRowMessages,
        min_length = MinLength,
        max_length = MaxLength,
        mean_length = Math.Round(MeanLength, 2),
        length_histogram = Histogram.ToDictionary(b => BucketName(b.Key), b => b.Value),
    }, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static DatasetStatistics FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var stats = new DatasetStatistics
        {
            Rows = root.GetProperty("rows").GetInt64(),
            Tokens = root.GetProperty("tokens").GetInt64(),
            CompletionTokens = root.GetProperty("completion_tokens").GetInt64(),
            Truncated = root.GetProperty("truncated").GetInt64(),
            SkippedBadRows = root.GetProperty("skipped_bad_rows").GetInt64(),
            BadRowMessages = root.GetProperty("bad_rows").EnumerateArray().Select(e => e.GetString()!).ToList(),
            MinLength = root.GetProperty("min_length").GetInt32(),
            MaxLength = root.GetProperty("max_length").GetInt32(),
        };
        foreach (var bucket in root.GetProperty("length_histogram").EnumerateObject())
        {
            int edge = bucket.Name.StartsWith('>') ? int.MaxValue : int.Parse(bucket.Name[1..], CultureInfo.InvariantCulture);
            stats.Histogram[edge] = bucket.Value.GetInt64();
        }

        return stats;
    }

    public string Format()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"rows              {Rows}");
        text.AppendLine(c, $"tokens            {Tokens} ({CompletionTokens} in completions)");
        text.AppendLine(c, $"length            min {MinLength}  mean {MeanLength:F1}  max {MaxLength}");
        text.AppendLine(c, $"truncated         {Truncated}");
        text.AppendLine(c, $"skipped bad rows  {SkippedBadRows}");
        long most = Histogram.Values.DefaultIfEmpty(1).Max();
        foreach (var (edge, count) in Histogram)
        {
            text.AppendLine(c, $"  {BucketName(edge),7} {count,8} {new string('#', (int)Math.Ceiling(40.0 * count / most))}");
        }

        return text.ToString();
    }

    private static string BucketName(int edge) => edge == int.MaxValue ? ">" + BucketEdges[^1].ToString(CultureInfo.InvariantCulture) : "≤" + edge.ToString(CultureInfo.InvariantCulture);
}
