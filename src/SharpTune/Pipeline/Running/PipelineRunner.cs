using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Manifest;

namespace SharpTune.Pipeline.Running;

/// <summary>
/// Runs stages against the artifact cache: a stage whose key is in the cache is a hit and does not run; otherwise
/// it writes into a partial directory that becomes the artifact only when the stage succeeds. Every stage, hit or
/// not, is recorded in the run manifest.
/// </summary>
public sealed class PipelineRunner
{
    private readonly Dictionary<string, JsonObject> _settings = new(StringComparer.OrdinalIgnoreCase);

    public PipelineRunner(PipelineDefinition pipeline, StageGraph graph, ArtifactCache cache, PipelineRunOptions options)
    {
        Pipeline = pipeline;
        Graph = graph;
        Cache = cache;
        Options = options;
    }

    public PipelineDefinition Pipeline { get; }

    public StageGraph Graph { get; }

    public ArtifactCache Cache { get; }

    public PipelineRunOptions Options { get; }

    public string ManifestPath => RunManifestStore.PathFor(Pipeline.OutputDirectory, Options.RunId);

    /// <summary>The stage's resolved settings (computed once per runner).</summary>
    public JsonObject SettingsOf(IPipelineStage stage)
    {
        if (!_settings.TryGetValue(stage.Name, out var settings))
        {
            settings = stage.ResolveSettings(Pipeline);
            _settings[stage.Name] = settings;
        }

        return settings;
    }

    /// <summary>
    /// The stage's key, or null with the first input that is not in the cache yet (its key depends on that input's
    /// files, so it cannot be known before the input has run).
    /// </summary>
    public (StagePlan? Plan, string? MissingInput) TryPlan(string stageName)
    {
        var stage = Graph.Get(stageName);
        var inputs = new Dictionary<string, Artifact>(StringComparer.Ordinal);
        foreach (string inputName in stage.Inputs)
        {
            var (inputPlan, missing) = TryPlan(inputName);
            if (inputPlan is null)
            {
                return (null, missing);
            }

            if (!Cache.TryGet(inputPlan.Stage.Name, inputPlan.Key.Value, out var artifact))
            {
                return (null, inputPlan.Stage.Name);
            }

            inputs[inputPlan.Stage.Name] = artifact;
        }

        var settings = SettingsOf(stage);
        var key = ArtifactKey.Compute(stage.Name, settings, inputs.ToDictionary(i => i.Key, i => i.Value.AsInput()), Options.ToolVersion);
        return (new StagePlan(stage, key, settings, inputs), null);
    }

    /// <summary>Runs one stage (unless its artifact is cached and <paramref name="force"/> is false); its inputs must be in the cache.</summary>
    public async Task<StageRecord> RunStageAsync(string stageName, bool force = false, CancellationToken cancellationToken = default)
    {
        var stage = Graph.Get(stageName);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var (plan, missing) = TryPlan(stage.Name);
        if (plan is null)
        {
            string message = $"stage {stage.Name} needs the artifact of {missing}, which is not in the cache ({Cache.Root}): " +
                $"run {missing} first (./build.sh --target={stage.Name} runs the stages it needs)";
            Record(new StageRecord(stage.Name, StageOutcome.Failed, null, null, new Dictionary<string, string>(), null, started, 0, new Dictionary<string, string>(), message));
            throw new SharpTuneException(message);
        }

        var inputKeys = plan.Inputs.ToDictionary(i => i.Key, i => i.Value.Key, StringComparer.Ordinal);
        string? redo = null;
        if (!force && Cache.TryGet(stage.Name, plan.Key.Value, out var cached)
            && (stage is not IExternalOutputStage external || external.IsStillInPlace(cached, Pipeline, out redo)))
        {
            Options.Log.WriteLine($"{stage.Name,-14} cache hit  {plan.Key.Short}  {cached.Directory}");
            return Record(new StageRecord(stage.Name, StageOutcome.Cached, plan.Key.Value, cached.Directory, inputKeys, plan.Settings, started,
                Math.Round(clock.Elapsed.TotalSeconds, 3), cached.Marker.Outputs, null));
        }

        Options.Log.WriteLine($"{stage.Name,-14} running    {plan.Key.Short}{(force ? "  (forced)" : redo is null ? "" : $"  ({redo})")}");
        using var write = Cache.BeginWrite(stage.Name, plan.Key.Value);
        var context = new StageContext(Pipeline, stage.Name, write.PartialDirectory, write.WorkDirectory, plan.Inputs, Options.Log, Options.Progress, Options.Runtime);
        try
        {
            await stage.RunAsync(context, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (Exception e)
        {
            string outcome = e is StageUnavailableException ? StageOutcome.Unavailable : StageOutcome.Failed;
            string error = e is SharpTuneException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            Record(new StageRecord(stage.Name, outcome, plan.Key.Value, null, inputKeys, plan.Settings, started,
                Math.Round(clock.Elapsed.TotalSeconds, 3), new Dictionary<string, string>(), error));
            Options.Log.WriteLine($"{stage.Name,-14} {outcome}");
            throw;
        }

        var artifact = write.Commit(Options.ToolVersion, JsonNode.Parse(plan.Key.Document)!.AsObject(), context.Outputs);
        Options.Log.WriteLine($"{stage.Name,-14} done       {plan.Key.Short}  {clock.Elapsed.TotalSeconds:0.0} s  {artifact.Directory}");
        return Record(new StageRecord(stage.Name, StageOutcome.Ran, plan.Key.Value, artifact.Directory, inputKeys, plan.Settings, started,
            Math.Round(clock.Elapsed.TotalSeconds, 3), context.Outputs, null));
    }

    /// <summary>
    /// Runs <paramref name="target"/> and the stages it needs, in this process, in dependency order; with
    /// <paramref name="exclusive"/> only the target (its inputs must be cached). Stages in <paramref name="force"/> run even when cached.
    /// </summary>
    public async Task<IReadOnlyList<StageRecord>> RunAsync(string target, bool exclusive = false, IReadOnlySet<string>? force = null, CancellationToken cancellationToken = default)
    {
        var stages = exclusive ? [Graph.Get(target)] : Graph.Closure(target);
        var records = new List<StageRecord>();
        foreach (var stage in stages)
        {
            bool forced = force is not null && (force.Contains(stage.Name) || force.Contains("all"));
            records.Add(await RunStageAsync(stage.Name, forced, cancellationToken).ConfigureAwait(false));
        }

        return records;
    }

    private StageRecord Record(StageRecord record)
    {
        RunManifestStore.Record(ManifestPath, CreateManifest, record, Cache);
        return record;
    }

    private RunManifest CreateManifest() => new(
        RunManifest.CurrentSchema,
        Options.RunId,
        Pipeline.Name,
        Pipeline.Source,
        Pipeline.SourceSha256,
        Cache.Root,
        DateTimeOffset.UtcNow,
        DateTimeOffset.UtcNow,
        Options.Versions,
        []);
}
