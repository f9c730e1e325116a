using SharpTune.Cli;

namespace SharpTune.Tests.Pipeline;

public sealed class PipelineCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Stage_runs_one_stage_then_hits_the_cache_and_cache_ls_and_gc_see_it()
    {
        using var temp = new TempPipeline();
        string file = temp.WriteFile("p.yaml", temp.Yaml());
        string cache = temp.Cache.Root;

        var first = Run("stage", "FetchDataset", "--pipeline", file, "--cache", cache, "--run-id", "r1");
        Assert.Equal(0, first.Code);
        Assert.Contains("FetchDataset   running", first.Err);
        Assert.Contains("4 training rows and 6 held-out rows from ", first.Err);
        Assert.Matches(@"FetchDataset\s+rows\s+\S+/FetchDataset/[0-9a-f]{64}/rows\.jsonl", first.Out);
        Assert.Contains($"manifest       {temp.PathOf("out/runs/r1/manifest.json")}", first.Out);
        string rows = first.Out.Split('\n').Single(l => l.Contains(" rows ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Equal(4, File.ReadAllLines(rows).Length);

        var second = Run("stage", "FetchDataset", "--pipeline", file, "--cache", cache, "--run-id", "r2");
        Assert.Equal(0, second.Code);
        Assert.Contains("FetchDataset   cache hit", second.Err);

        var plan = Run("run", "--check", "--pipeline", file, "--cache", cache);
        Assert.Equal(0, plan.Code);
        Assert.Matches(@"FetchDataset\s+cached\s+[0-9a-f]{12}", plan.Out);
        Assert.Matches(@"FetchModel\s+to run\s+[0-9a-f]{12}", plan.Out);
        Assert.Matches(@"TrainLoRA\s+pending\s+\(after FetchModel\)", plan.Out);

        var list = Run("cache", "ls", "--cache", cache);
        Assert.Equal(0, list.Code);
        Assert.Contains($"cache {cache}: 1 artifact(s)", list.Out);

        var dry = Run("cache", "gc", "--cache", cache, "--all", "--dry-run");
        Assert.Contains("would delete  FetchDataset/", dry.Out);
        Assert.Single(temp.Cache.List());
        var gc = Run("cache", "gc", "--cache", cache, "--all");
        Assert.Equal(0, gc.Code);
        Assert.Matches(@"freed \d+(\.\d)? (B|KiB) \(1 removed, 0 kept\)", gc.Out);
        Assert.Empty(temp.Cache.List());
    }

    [Fact]
    public void User_errors_are_one_line_without_a_stack_trace()
    {
        using var temp = new TempPipeline();
        string file = temp.WriteFile("p.yaml", temp.Yaml());
        var unknown = Run("stage", "TrainLora2", "--pipeline", file, "--cache", temp.Cache.Root);
        Assert.Equal(1, unknown.Code);
        Assert.StartsWith("error: unknown stage 'TrainLora2' (did you mean 'TrainLoRA'?)", unknown.Err);

        var missing = Run("stage", "FormatPrompts", "--pipeline", file, "--cache", temp.Cache.Root);
        Assert.Equal(1, missing.Code);
        Assert.StartsWith("error: stage FormatPrompts needs the artifact of FetchDataset, which is not in the cache", missing.Err);
        Assert.DoesNotContain(" at SharpTune", missing.Err);

        var both = Run("publish", "--pipeline", file, "--repo", "a/b", "--to", temp.PathOf("x"));
        Assert.Equal("error: give --repo or --to, not both", both.Err.Trim());
    }
}
