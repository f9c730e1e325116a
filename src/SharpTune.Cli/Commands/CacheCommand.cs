using System.CommandLine;
using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Manifest;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune cache ls|gc</c>: list the artifact cache, or delete what recent runs no longer use.</summary>
public static class CacheCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("cache", "Inspect or clean the artifact cache (each stage's outputs, keyed by settings, inputs and tool version).");
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(Collect(context));
        return command;
    }

    private static ArtifactCache Open(ParseResult parsed, Option<string?> cache, Option<string?> pipeline)
    {
        string? file = parsed.GetValue(pipeline);
        string? configured = file is null ? null : PipelineLoader.Load(file).CacheDirectory;
        return new ArtifactCache(ArtifactCache.ResolveRoot(parsed.GetValue(cache), configured));
    }

    private static Command List(CliContext context)
    {
        var cache = StageOptions.Cache();
        var pipeline = StageOptions.Pipeline();
        var command = new Command("ls", "List the complete artifacts: stage, key, size, when made, and where.") { cache, pipeline };
        command.SetAction(parsed =>
        {
            var store = Open(parsed, cache, pipeline);
            var artifacts = store.List();
            context.Out.WriteLine($"cache {store.Root}: {artifacts.Count} artifact(s)");
            foreach (var artifact in artifacts)
            {
                context.Out.WriteLine($"{artifact.Stage,-14} {artifact.Key[..12]}  {Size(ArtifactCache.SizeOf(artifact.Directory)),10}  {artifact.Marker.Completed:yyyy-MM-dd HH:mm}  {artifact.Directory}");
            }

            return 0;
        });
        return command;
    }

    private static Command Collect(CliContext context)
    {
        var cache = StageOptions.Cache();
        var pipeline = StageOptions.Pipeline();
        var all = new Option<bool>("--all") { Description = "Delete every artifact (clear the cache)." };
        var keepRuns = new Option<int>("--keep-runs")
        {
            Description = "How many of each pipeline's latest runs keep their artifacts.",
            DefaultValueFactory = _ => 1,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only show what would be deleted." };
        var command = new Command("gc", "Delete artifacts that the latest run(s) of each pipeline do not use, and leftovers of interrupted stages.")
        {
            cache, pipeline, all, keepRuns, dryRun,
        };
        command.SetAction(parsed =>
        {
            var store = Open(parsed, cache, pipeline);
            int keep = parsed.GetValue(keepRuns);
            if (keep < 0)
            {
                throw new SharpTuneException("--keep-runs must be 0 or more");
            }

            var result = CacheRetention.Collect(store, keep, parsed.GetValue(all), parsed.GetValue(dryRun));
            foreach (string removed in result.Removed)
            {
                context.Out.WriteLine($"{(parsed.GetValue(dryRun) ? "would delete" : "deleted")}  {removed}");
            }

            context.Out.WriteLine($"{(parsed.GetValue(dryRun) ? "would free" : "freed")} {Size(result.Bytes)} ({result.Removed.Count} removed, {result.Kept} kept) in {store.Root}");
            return 0;
        });
        return command;
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
