using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Pipeline.Manifest;
using SharpTune.Pipeline.Running;

namespace SharpTune.Tests.Pipeline;

public sealed class PipelineRunnerTests
{
    private sealed class Chain
    {
        // A -> B -> C, with D beside: a small graph whose settings come from the pipeline's training section.
        public EchoStage A { get; } = new("A", [], p => new JsonObject { ["seed"] = p.Training.Seed });
        public EchoStage B { get; } = new("B", ["A"], p => new JsonObject { ["steps"] = p.Training.Steps });
        public EchoStage C { get; } = new("C", ["B", "A"], p => new JsonObject { ["lr"] = p.Training.LearningRate });
        public EchoStage D { get; } = new("D", [], _ => new JsonObject());

        public StageGraph Graph => new([A, B, C, D]);

        public int[] Runs => [A.Runs, B.Runs, C.Runs, D.Runs];
    }

    private static PipelineRunner Runner(TempPipeline temp, Chain chain, string runId = "run-1", string version = "1.0", params (string, string)[] overrides) =>
        new(temp.Load(overrides), chain.Graph, temp.Cache, new PipelineRunOptions { RunId = runId, ToolVersion = version });

    [Fact]
    public async Task A_second_run_with_nothing_changed_is_all_cache_hits()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        var first = await Runner(temp, chain).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(["A", "B", "C"], first.Select(r => r.Stage));
        Assert.All(first, r => Assert.Equal(StageOutcome.Ran, r.Outcome));
        var second = await Runner(temp, chain, "run-2").RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(second, r => Assert.Equal(StageOutcome.Cached, r.Outcome));
        Assert.Equal(first.Select(r => r.Key), second.Select(r => r.Key));
        Assert.Equal([1, 1, 1, 0], chain.Runs);
    }

    [Fact]
    public async Task Changing_a_setting_reruns_that_stage_and_what_reads_it_only()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        await Runner(temp, chain).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        var records = await Runner(temp, chain, "run-2", "1.0", ("steps: 3", "steps: 4")).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([StageOutcome.Cached, StageOutcome.Ran, StageOutcome.Ran], records.Select(r => r.Outcome));
        records = await Runner(temp, chain, "run-3", "1.0", ("learning_rate: 1.0e-3", "learning_rate: 0.001")).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([StageOutcome.Cached, StageOutcome.Cached, StageOutcome.Cached], records.Select(r => r.Outcome));
        records = await Runner(temp, chain, "run-4", "2.0").RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(records, r => Assert.Equal(StageOutcome.Ran, r.Outcome));
    }

    [Fact]
    public async Task An_interrupted_stage_leaves_nothing_complete_and_the_next_run_redoes_it_from_its_checkpoint()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        chain.B.FailNextRunWith = new IOException("killed during step 3");
        var error = await Assert.ThrowsAsync<IOException>(() => Runner(temp, chain).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("killed during step 3", error.Message);
        Assert.Equal([1, 1, 0, 0], chain.Runs);
        Assert.Single(temp.Cache.List());                                   // only A
        var manifest = RunManifestStore.TryRead(RunManifestStore.PathFor(temp.PathOf("out"), "run-1"))!;
        Assert.Equal([("A", StageOutcome.Ran), ("B", StageOutcome.Failed)], manifest.Stages.Select(s => (s.Stage, s.Outcome)));
        Assert.Equal("IOException: killed during step 3", manifest.Stages[1].Error);
        Assert.Null(manifest.Stages[1].Artifact);

        var records = await Runner(temp, chain, "run-2").RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([StageOutcome.Cached, StageOutcome.Ran, StageOutcome.Ran], records.Select(r => r.Outcome));
        Assert.Equal("B step 2", chain.B.ResumedFrom);
        Assert.Equal([1, 2, 1, 0], chain.Runs);
        Assert.Empty(Directory.GetDirectories(temp.Cache.Root, "*.partial-*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetDirectories(temp.Cache.Root, "*.work", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_killed_process_leaves_a_partial_directory_that_is_never_used()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        var runner = Runner(temp, chain);
        await runner.RunStageAsync("A", cancellationToken: TestContext.Current.CancellationToken);
        var plan = runner.TryPlan("B").Plan!;

        // What `kill -9` during B leaves behind: a partial directory, and (worst case) a final-named directory without a marker.
        string final = temp.Cache.ArtifactDirectory("B", plan.Key.Value);
        Directory.CreateDirectory(final + ".partial-4242");
        File.WriteAllText(Path.Combine(final + ".partial-4242", "part-1.txt"), "first half");
        Assert.Equal("pending    (after B)", Status(Runner(temp, chain), "C"));

        Directory.Move(final + ".partial-4242", final);
        Assert.Equal("pending    (after B)", Status(Runner(temp, chain), "C"));

        var record = await Runner(temp, chain, "run-2").RunStageAsync("B", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(StageOutcome.Ran, record.Outcome);
        Assert.True(File.Exists(Path.Combine(final, "out", "result.txt")));
    }

    [Fact]
    public async Task A_stage_alone_needs_its_inputs_in_the_cache()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        var error = await Assert.ThrowsAsync<SharpTuneException>(() => Runner(temp, chain).RunAsync("C", exclusive: true, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal($"stage C needs the artifact of A, which is not in the cache ({temp.Cache.Root}): run A first (./build.sh --target=C runs the stages it needs)", error.Message);
        Assert.Equal([0, 0, 0, 0], chain.Runs);
    }

    [Fact]
    public async Task Forcing_a_stage_reruns_it_and_what_follows_reruns_only_if_its_output_changed()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        await Runner(temp, chain).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        var force = new HashSet<string>(["B"], StringComparer.OrdinalIgnoreCase);

        var same = await Runner(temp, chain, "run-2").RunAsync("C", force: force, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([StageOutcome.Cached, StageOutcome.Ran, StageOutcome.Cached], same.Select(r => r.Outcome));

        chain.B.Salt = "another GPU, another result";
        var changed = await Runner(temp, chain, "run-3").RunAsync("C", force: force, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([StageOutcome.Cached, StageOutcome.Ran, StageOutcome.Ran], changed.Select(r => r.Outcome));
        Assert.Equal(same[1].Key, changed[1].Key);
        Assert.NotEqual(same[2].Key, changed[2].Key);
        Assert.Equal(2, temp.Cache.List().Count(a => a.Stage == "C"));
    }

    [Fact]
    public async Task The_manifest_records_each_stage_key_inputs_settings_timing_versions_and_outcome()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        var runner = Runner(temp, chain, "run-7");
        await runner.RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        await Runner(temp, chain, "run-7").RunStageAsync("D", cancellationToken: TestContext.Current.CancellationToken);

        string path = temp.PathOf("out/runs/run-7/manifest.json");
        Assert.Equal(path, runner.ManifestPath);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("run-7", (string?)json["run_id"]);
        Assert.Equal("test", (string?)json["pipeline"]);
        Assert.Equal(temp.PathOf("test.yaml"), (string?)json["pipeline_source"]);
        Assert.Matches("^[0-9a-f]{64}$", (string?)json["pipeline_sha256"]);
        Assert.Equal(temp.Cache.Root, (string?)json["cache_directory"]);
        Assert.Equal(["dotnet", "os", "sharptune", "torchsharp"], json["versions"]!.AsObject().Select(p => p.Key).Where(k => k != "libtorch").Order());
        var stages = json["stages"]!.AsArray();
        Assert.Equal(["A", "B", "C", "D"], stages.Select(s => (string?)s!["stage"]));
        var c = stages[2]!.AsObject();
        Assert.Equal(StageOutcome.Ran, (string?)c["outcome"]);
        Assert.Equal(temp.Cache.ArtifactDirectory("C", (string)c["key"]!), (string?)c["artifact"]);
        Assert.Equal((string?)stages[1]!["key"], (string?)c["inputs"]!["B"]);
        Assert.Equal((string?)stages[0]!["key"], (string?)c["inputs"]!["A"]);
        Assert.Equal(0.001, (double)c["settings"]!["lr"]!);
        Assert.Equal("out/result.txt", (string?)c["outputs"]!["result"]);
        Assert.True((double)c["seconds"]! >= 0);
        Assert.True(DateTimeOffset.Parse((string)c["started"]!) <= DateTimeOffset.UtcNow);

        // The cache keeps a copy for gc; the completion marker holds the document its key hashes.
        Assert.True(File.Exists(Path.Combine(temp.Cache.Root, "runs", "test", "run-7.json")));
        Assert.True(temp.Cache.TryGet("C", (string)c["key"]!, out var artifact));
        Assert.Equal(1, artifact.Marker.KeyDocument!["inputs"]!.AsObject().Count(i => i.Key == "A"));
        Assert.Equal("1.0", (string?)artifact.Marker.KeyDocument!["tool"]);
        Assert.DoesNotContain("token", File.ReadAllText(path), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Gc_keeps_what_the_latest_run_uses_and_all_clears_the_cache()
    {
        using var temp = new TempPipeline();
        var chain = new Chain();
        await Runner(temp, chain, "run-1").RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        await Task.Delay(20, TestContext.Current.CancellationToken);
        var latest = await Runner(temp, chain, "run-2", "1.0", ("steps: 3", "steps: 9")).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(5, temp.Cache.List().Count);

        var kept2 = CacheRetention.Collect(temp.Cache, keepRuns: 2, dryRun: true);
        Assert.Empty(kept2.Removed);
        var result = CacheRetention.Collect(temp.Cache, keepRuns: 1);
        Assert.Equal(2, result.Removed.Count);
        Assert.Equal(latest.Select(r => (r.Stage, r.Key)).Order(), temp.Cache.List().Select(a => (a.Stage, (string?)a.Key)).Order());
        Assert.Equal(["run-2"], RunManifestStore.ListInCache(temp.Cache).Select(m => m.RunId));

        var again = await Runner(temp, chain, "run-3", "1.0", ("steps: 3", "steps: 9")).RunAsync("C", cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(again, r => Assert.Equal(StageOutcome.Cached, r.Outcome));

        CacheRetention.Collect(temp.Cache, all: true);
        Assert.Empty(temp.Cache.List());
    }

    [Fact]
    public void The_graph_rejects_unknown_inputs_and_cycles_and_suggests_stage_names()
    {
        Assert.Throws<ArgumentException>(() => new StageGraph([new EchoStage("A", ["Z"])]));
        Assert.Throws<ArgumentException>(() => new StageGraph([new EchoStage("A", ["B"]), new EchoStage("B", ["A"])]));
        var graph = new Chain().Graph;
        Assert.Equal(["A", "B", "C"], graph.Closure("c").Select(s => s.Name));
        Assert.Equal(["B", "C"], graph.Downstream("A").Order());
        var error = Assert.Throws<SharpTuneException>(() => SharpTune.Pipeline.Stages.StandardStages.Create().Get("TrainLora2"));
        Assert.Equal("unknown stage 'TrainLora2' (did you mean 'TrainLoRA'?); stages: FetchModel, FetchDataset, QuantizeBase, FormatPrompts, TrainLoRA, Evaluate, ExportGguf, Publish", error.Message);
    }

    private static string Status(PipelineRunner runner, string stage)
    {
        var writer = new StringWriter();
        SharpTune.Cli.Commands.RunCommand.WritePlan(writer, runner);
        string line = writer.ToString().Split('\n').Single(l => l.StartsWith(stage + " ", StringComparison.Ordinal));
        return line[14..].Trim()[..20];
    }
}
