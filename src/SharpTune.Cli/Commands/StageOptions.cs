using System.CommandLine;
using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Cli.Commands;

/// <summary>Options shared by the pipeline commands (stage, run, cache): which pipeline, which cache, which run.</summary>
internal static class StageOptions
{
    public static Option<string?> Pipeline() => new("--pipeline")
    {
        Description = "The pipeline YAML file (e.g. pipelines/medical-qlora.yaml). Default: the built-in default pipeline " +
            "(a tiny model on CPU, pipelines/default.yaml). Relative paths inside it are relative to the current directory.",
    };

    public static Option<string?> Cache() => new("--cache")
    {
        Description = $"The artifact cache directory. Default: the pipeline's 'cache:', else ${ArtifactCache.DirectoryVariable}, else {ArtifactCache.DefaultDirectory}.",
    };

    public static Option<string?> RunId() => new("--run-id")
    {
        Description = "The run this stage belongs to (its manifest is out/<pipeline>/runs/<run-id>/manifest.json). Default: a new run.",
    };

    public static PipelineRunner CreateRunner(CliContext context, string? pipelineFile, string? cacheDirectory, string? runId, ParseResult parsed, IProgress<SharpTune.Progress.OperationProgress>? progress)
    {
        var pipeline = PipelineLoader.Load(pipelineFile);
        var cache = new ArtifactCache(ArtifactCache.ResolveRoot(cacheDirectory, pipeline.CacheDirectory));
        var options = new PipelineRunOptions
        {
            RunId = runId ?? SharpTune.Pipeline.Manifest.RunManifestStore.NewRunId(),
            Log = context.Error,
            Progress = progress,
            Runtime = GlobalOptions.RuntimeOptions(parsed),
        };
        return new PipelineRunner(pipeline, StandardStages.Create(), cache, options);
    }

    /// <summary>"  adapter  /path/...": a stage's named outputs, one a line.</summary>
    public static void WriteOutputs(TextWriter writer, string stage, string? artifactDirectory, IReadOnlyDictionary<string, string> outputs)
    {
        foreach (var (name, path) in outputs.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            string full = artifactDirectory is null || Path.IsPathRooted(path) || path.Contains("://", StringComparison.Ordinal) ? path : Path.Combine(artifactDirectory, path);
            writer.WriteLine($"{stage,-14} {name,-12} {full}");
        }
    }
}
