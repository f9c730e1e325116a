using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Progress;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// Source rows → template → tokenizer → tokenized dataset on disk (sharded, with manifest and stats.json), written
/// atomically. When the output directory already holds a dataset made from the same inputs and settings (same key),
/// it is reused without reading the source.
/// </summary>
public static class TokenizedDatasetBuilder
{
    public static DatasetFormatResult Build(DatasetFormatOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string key = Key(options);
        string output = Path.GetFullPath(options.OutputDirectory);
        if (File.Exists(Path.Combine(output, TokenizedDatasetManifest.FileName)))
        {
            try
            {
                var existing = TokenizedDatasetManifest.Read(output);
                if (existing.Key == key && File.Exists(Path.Combine(output, DatasetStatistics.FileName)))
                {
                    var stats = DatasetStatistics.FromJson(File.ReadAllText(Path.Combine(output, DatasetStatistics.FileName)));
                    return new DatasetFormatResult(output, existing, stats, Reused: true);
                }
            }
            catch (SharpTuneException)
            {
                // An unreadable or old dataset is rebuilt.
            }
        }

        var mapping = options.Mapping ?? FieldMapping.Identity;
        var badRows = new BadRowPolicy(options.SkipBadRows);
        var tokenizer = new SampleTokenizer(options.Tokenizer, options.MaxLength);
        var statistics = new DatasetStatistics();
        using var writer = new TokenizedDatasetWriter(output);
        string task = "tokenize " + options.Source.Name;
        long read = 0;
        foreach (var record in options.Source.Read(badRows, cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
            read++;
            try
            {
                var rendered = options.Template.Render(record, mapping);
                var (sample, truncated) = tokenizer.Tokenize(rendered);
                writer.Add(sample);
                statistics.Add(sample, truncated);
            }
            catch (BadRowException e)
            {
                badRows.Handle(e);
            }

            if (read % 1000 == 0)
            {
                progress?.Report(new OperationProgress(task, read, null, "row"));
            }
        }

        if (statistics.Rows == 0)
        {
            throw new SharpTuneException($"{options.Source.Name}: no usable rows" + (badRows.Skipped > 0 ? $" ({badRows.Skipped} bad rows skipped; first: {badRows.Messages[0]})" : ""));
        }

        statistics.SkippedBadRows = badRows.Skipped;
        statistics.BadRowMessages = badRows.Messages.ToList();
        progress?.Report(new OperationProgress(task, read, read, "row"));
        var manifest = writer.Complete(key, options.MaxLength, options.Template.Name, options.TokenizerDirectory, options.Source.Name, statistics);
        return new DatasetFormatResult(output, manifest, statistics, Reused: false);
    }

    /// <summary>SHA-256 of a file's bytes, as a source fingerprint.</summary>
    public static string FingerprintFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: file not found");
        }

        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The cache key: everything that changes the output (source content, template, mapping, tokenizer files, max length, tool version).</summary>
    public static string Key(DatasetFormatOptions options)
    {
        var text = new StringBuilder();
        text.AppendLine(TokenizedDatasetManifest.CurrentFormat);
        text.AppendLine(typeof(TokenizedDatasetBuilder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
        text.AppendLine(options.SourceFingerprint);
        text.AppendLine(options.Template.Fingerprint);
        text.AppendLine(options.Mapping?.Fingerprint ?? FieldMapping.Identity.Fingerprint);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            string path = Path.Combine(options.TokenizerDirectory, file);
            text.AppendLine(File.Exists(path) ? FingerprintFile(path) : "-");
        }

        text.AppendLine(options.MaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.AppendLine(options.SkipBadRows ? "skip" : "strict");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
