using SharpTune.Cli;
using SharpTune.Data.Tokenized;
using SharpTune.Tests.Tokenization;

namespace SharpTune.Tests.Data;

public sealed class DataCommandTests
{
    private static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string MedicalTrain => Path.Combine(RepositoryPaths.Root, "datasets", "medical", "train.jsonl");

    [Fact]
    public void Fetch_then_format_then_stats_on_the_reference_runs_first_200_rows()
    {
        TokenizerFiles.Load("llama3");
        using var dir = new TempDirectory();
        var fetched = Run("data", "fetch", "--source", MedicalTrain, "--rows", "200", "--out", dir.File("rows.jsonl"));
        Assert.Equal(0, fetched.ExitCode);
        Assert.Contains("wrote 200 rows", fetched.Out);
        Assert.Equal(200, File.ReadAllLines(dir.File("rows.jsonl")).Length);

        string[] format = ["data", "format", "--source", dir.File("rows.jsonl"), "--tokenizer", TokenizerFiles.Directory("llama3"), "--out", dir.File("cache"), "--template", "medical-cot"];
        var first = Run(format);
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("wrote ", first.Out);
        Assert.Matches(@"rows\s+200", first.Out);
        Assert.Contains("reused", Run(format).Out);
        Assert.Equal(200, TokenizedDataset.Open(dir.File("cache")).Count);

        var stats = Run("data", "stats", dir.File("cache"), "--json", dir.File("stats.json"));
        Assert.Equal(0, stats.ExitCode);
        Assert.Equal(DatasetStatistics.FromJson(File.ReadAllText(Path.Combine(dir.File("cache"), "stats.json"))).Tokens,
            DatasetStatistics.FromJson(File.ReadAllText(dir.File("stats.json"))).Tokens);
    }

    [Fact]
    public void A_bad_row_is_one_error_line_and_skip_bad_rows_reports_it()
    {
        TokenizerFiles.Load("llama3");
        using var dir = new TempDirectory();
        string source = dir.Write("rows.jsonl", "{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"a\"}\n{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"\"}\n");
        string[] format = ["data", "format", "--source", source, "--tokenizer", TokenizerFiles.Directory("llama3"), "--out", dir.File("cache")];
        var failed = Run(format);
        Assert.Equal(1, failed.ExitCode);
        Assert.Equal($"error: {source}: row 2: field 'output': empty text", failed.Err.Trim());
        Assert.False(Directory.Exists(dir.File("cache")));

        var skipped = Run([.. format, "--skip-bad-rows"]);
        Assert.Equal(0, skipped.ExitCode);
        Assert.Contains("skipped 1 bad rows", skipped.Err);
        Assert.Matches(@"skipped bad rows\s+1", skipped.Out);
    }

    [Fact]
    public void Unknown_formats_and_templates_are_clear_errors()
    {
        using var dir = new TempDirectory();
        var bad = Run("data", "fetch", "--source", dir.Write("x.txt", "hi"), "--out", dir.File("o.jsonl"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown dataset format '.txt'", bad.Err);
        var hub = Run("data", "format", "--source", "hf://shibing624/medical:finetune", "--tokenizer", dir.Path, "--out", dir.File("c"));
        Assert.Equal(1, hub.ExitCode);
        Assert.StartsWith("error: hf://shibing624/medical:finetune: 'data format' reads a local file", hub.Err);
    }
}
