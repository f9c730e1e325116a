using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using SharpTune.Cli.Rendering;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Data.Tokenized;
using SharpTune.Hub;
using SharpTune.Models.Tokenization;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune data fetch|format|stats|bench</c>: datasets to normalized JSONL, then to a tokenized cache.</summary>
public static class DataCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("data", "Prepare datasets: fetch a source to JSONL, format + tokenize it into a cache, show statistics, benchmark.");
        command.Subcommands.Add(CreateFetch(context));
        command.Subcommands.Add(CreateFormat(context));
        command.Subcommands.Add(CreateStats(context));
        command.Subcommands.Add(CreateBench(context));
        return command;
    }

    private static Option<string> SourceOption() => new("--source")
    {
        Description = "The dataset: a local .jsonl, .json (array or {\"data\": [...]}), .csv or .parquet file, or a Hugging Face dataset " +
            "hf://owner/name[:config] (read through the Hub's Parquet conversion; e.g. hf://shibing624/medical:finetune).",
        Required = true,
    };

    private static Option<long> SkipOption() => new("--skip") { Description = "Rows to skip at the start.", DefaultValueFactory = _ => 0 };

    private static Option<long?> RowsOption() => new("--rows") { Description = "Use at most this many rows (the reference run: 200)." };

    private static Option<bool> SkipBadRowsOption() => new("--skip-bad-rows")
    {
        Description = "Count and skip rows that cannot be used (missing field, wrong type, empty text, invalid UTF-8, unparseable line) instead of stopping at the first.",
    };

    private static Option<string> SplitOption() => new("--split") { Description = "The split of a Hugging Face dataset.", DefaultValueFactory = _ => "train" };

    private static IDataSource OpenSource(string source, string split, long skip, long? rows, HubClient? hub, IProgress<SharpTune.Progress.OperationProgress>? progress)
    {
        IDataSource opened = HubDatasetReference.TryParse(source, out var reference)
            ? HubDatasetSource.FromClient(hub ?? throw new SharpTuneException($"{source}: no Hub client"), reference with { Split = split }, progress)
            : DataSourceFactory.OpenFile(source);
        return skip > 0 || rows is not null ? new RowRangeSource(opened, skip, rows) : opened;
    }

    private static Command CreateFetch(CliContext context)
    {
        var source = SourceOption();
        var skip = SkipOption();
        var rows = RowsOption();
        var skipBad = SkipBadRowsOption();
        var split = SplitOption();
        var output = new Option<string>("--out") { Description = "The normalized JSONL file to write.", Required = true };
        var command = new Command("fetch", "Read a dataset (JSONL, JSON, CSV, Parquet, or a Hugging Face dataset) and write its rows as normalized JSONL.") { source, split, skip, rows, skipBad, output };
        command.SetAction(parsed =>
        {
            var badRows = new BadRowPolicy(parsed.GetValue(skipBad));
            using var progress = new ConsoleProgress(context.Error);
            using var hub = new HubClient(HubOptions.FromEnvironment());
            var src = OpenSource(parsed.GetValue(source)!, parsed.GetValue(split)!, parsed.GetValue(skip), parsed.GetValue(rows), hub, progress);
            long written = JsonLinesWriter.Write(src, parsed.GetValue(output)!, badRows, progress);
            context.Out.WriteLine($"wrote {written} rows to {parsed.GetValue(output)}");
            ReportBadRows(context, badRows.Skipped, badRows.Messages);
            return 0;
        });
        return command;
    }

    private static Command CreateFormat(CliContext context)
    {
        var source = SourceOption();
        var skip = SkipOption();
        var rows = RowsOption();
        var skipBad = SkipBadRowsOption();
        var tokenizer = new Option<string>("--tokenizer") { Description = "Directory with the model's tokenizer.json and tokenizer_config.json.", Required = true };
        var output = new Option<string>("--out") { Description = "The tokenized dataset directory (reused when inputs and settings are unchanged).", Required = true };
        var template = new Option<string?>("--template")
        {
            Description = $"A built-in template: {string.Join(", ", PromptTemplateCatalog.Names)}. Default medical-cot unless --prompt is given.",
        };
        var prompt = new Option<string?>("--prompt") { Description = "A custom prompt with {field} placeholders (use with --completion)." };
        var completion = new Option<string?>("--completion") { Description = "A custom completion with {field} placeholders, e.g. \"{output}\"." };
        var fields = new Option<string[]>("--field")
        {
            Description = "Map a placeholder to a source field: name=path (dotted for nested fields), e.g. --field output=answer.text. Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxLength = new Option<int>("--max-length") { Description = "Cut samples to this many tokens.", DefaultValueFactory = _ => 2048 };
        var command = new Command("format", "Render each row with a prompt template, tokenize it and write a tokenized dataset (token ids + completion mask) with statistics.")
        {
            source, skip, rows, skipBad, tokenizer, output, template, prompt, completion, fields, maxLength,
        };
        command.SetAction(parsed =>
        {
            string sourcePath = parsed.GetValue(source)!;
            if (HubDatasetReference.TryParse(sourcePath, out _))
            {
                throw new SharpTuneException($"{sourcePath}: 'data format' reads a local file; run 'sharptune data fetch --source {sourcePath} --out rows.jsonl' first");
            }

            string tokenizerDir = parsed.GetValue(tokenizer)!;
            var tok = HfTokenizer.Load(tokenizerDir);
            IPromptTemplate chosen = parsed.GetValue(prompt) is string p
                ? PromptTemplateCatalog.Custom(p, parsed.GetValue(completion) ?? throw new SharpTuneException("--prompt needs --completion"))
                : PromptTemplateCatalog.Get(parsed.GetValue(template) ?? "medical-cot", tok);
            var src = OpenSource(sourcePath, "train", parsed.GetValue(skip), parsed.GetValue(rows), null, null);
            string fingerprint = $"{TokenizedDatasetBuilder.FingerprintFile(sourcePath)}|{parsed.GetValue(skip)}|{parsed.GetValue(rows)}";
            using var progress = new ConsoleProgress(context.Error);
            var result = TokenizedDatasetBuilder.Build(
                new DatasetFormatOptions(src, fingerprint, chosen, tok, tokenizerDir, parsed.GetValue(output)!, parsed.GetValue(maxLength),
                    ParseMapping(parsed.GetValue(fields) ?? []), parsed.GetValue(skipBad)),
                progress);
            context.Out.WriteLine(result.Reused ? $"reused {result.Directory} (inputs and settings unchanged)" : $"wrote {result.Directory}");
            context.Out.Write(result.Statistics.Format());
            ReportBadRows(context, result.Statistics.SkippedBadRows, result.Statistics.BadRowMessages.ToList());
            return 0;
        });
        return command;
    }

    private static Command CreateStats(CliContext context)
    {
        var directory = new Argument<string>("dataset") { Description = "A tokenized dataset directory (made by 'sharptune data format')." };
        var json = new Option<string?>("--json") { Description = "Also save the statistics as JSON to this file." };
        var command = new Command("stats", "Recount a tokenized dataset's rows, tokens and lengths from its shards, print them, and save them as JSON.") { directory, json };
        command.SetAction(parsed =>
        {
            var dataset = TokenizedDataset.Open(parsed.GetValue(directory)!);
            dataset.Verify();
            var stats = new DatasetStatistics();
            for (int i = 0; i < dataset.Count; i++)
            {
                var sample = dataset[i];
                stats.Add(sample, sample.Length >= dataset.Manifest.MaxLength);
            }

            context.Out.Write(stats.Format());
            string target = parsed.GetValue(json) ?? Path.Combine(parsed.GetValue(directory)!, "stats.recount.json");
            File.WriteAllText(target, stats.ToJson());
            context.Out.WriteLine($"saved {target}");
            return 0;
        });
        return command;
    }

    private static Command CreateBench(CliContext context)
    {
        var rows = new Option<int>("--rows") { Description = "Rows to format and tokenize.", DefaultValueFactory = _ => 100_000 };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Tokenizer directory.", Required = true };
        var sample = new Option<string>("--sample") { Description = "JSONL rows to cycle through.", DefaultValueFactory = _ => "datasets/medical/train.jsonl" };
        var template = new Option<string>("--template") { Description = "Template name.", DefaultValueFactory = _ => "medical-cot" };
        var command = new Command("bench", "Measure formatting + tokenizing + writing the cache (rows/s).") { rows, tokenizer, sample, template };
        command.SetAction(parsed =>
        {
            var tok = HfTokenizer.Load(parsed.GetValue(tokenizer)!);
            var samples = new JsonLinesSource(parsed.GetValue(sample)!).Read(new BadRowPolicy(false)).Select(r => r.Fields).ToList<JsonObject>();
            using var progress = new ConsoleProgress(context.Error);
            var result = DataFormatBenchmark.Run(samples, parsed.GetValue(rows), PromptTemplateCatalog.Get(parsed.GetValue(template)!, tok), tok, parsed.GetValue(tokenizer)!, progress);
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Rows} rows, {result.Tokens} tokens in {result.Elapsed.TotalSeconds:F2} s: {result.RowsPerSecond:F0} rows/s, {result.TokensPerSecond:F0} tokens/s"));
            return 0;
        });
        return command;
    }

    private static FieldMapping ParseMapping(string[] entries)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == entry.Length - 1)
            {
                throw new SharpTuneException($"--field '{entry}': expected name=path, e.g. output=answer.text");
            }

            map[entry[..eq]] = entry[(eq + 1)..];
        }

        return new FieldMapping(map);
    }

    private static void ReportBadRows(CliContext context, long skipped, IReadOnlyList<string> messages)
    {
        if (skipped == 0)
        {
            return;
        }

        context.Error.WriteLine($"skipped {skipped} bad rows; first:");
        foreach (var message in messages)
        {
            context.Error.WriteLine("  " + message);
        }
    }
}
