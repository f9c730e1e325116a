using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Models.Tokenization;
using SharpTune.Progress;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// Measures formatting + tokenizing + writing the cache for <c>rows</c> rows made by cycling through sample rows
/// (each made distinct by its row number so no cache hides the work), into a temporary directory.
/// </summary>
public static class DataFormatBenchmark
{
    public sealed record Result(long Rows, long Tokens, TimeSpan Elapsed)
    {
        public double RowsPerSecond => Rows / Elapsed.TotalSeconds;

        public double TokensPerSecond => Tokens / Elapsed.TotalSeconds;
    }

    public static Result Run(IReadOnlyList<JsonObject> sampleRows, int rows, IPromptTemplate template, HfTokenizer tokenizer, string tokenizerDirectory, IProgress<OperationProgress>? progress = null)
    {
        if (sampleRows.Count == 0)
        {
            throw new SharpTuneException("benchmark: no sample rows");
        }

        string output = Path.Combine(Path.GetTempPath(), "sharptune-data-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            var source = new SyntheticSource(sampleRows, rows);
            var watch = Stopwatch.StartNew();
            var result = TokenizedDatasetBuilder.Build(
                new DatasetFormatOptions(source, Guid.NewGuid().ToString(), template, tokenizer, tokenizerDirectory, output, Mapping: FieldMapping.Identity),
                progress);
            watch.Stop();
            return new Result(result.Statistics.Rows, result.Statistics.Tokens, watch.Elapsed);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private sealed class SyntheticSource(IReadOnlyList<JsonObject> rows, int count) : IDataSource
    {
        public string Name => $"synthetic ({count} rows)";

        public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
        {
            for (int i = 0; i < count; i++)
            {
                var row = (JsonObject)rows[i % rows.Count].DeepClone();
                foreach (var (name, value) in row.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var text) && name == "instruction")
                    {
                        row[name] = $"{text} (#{i})";
                    }
                }

                yield return new DataRecord(Name, i + 1, row);
            }
        }
    }
}
