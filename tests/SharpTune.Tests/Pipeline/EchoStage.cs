using System.Text.Json.Nodes;
using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Tests.Pipeline;

/// <summary>
/// A stage for testing the runner: the name, inputs and settings of a real stage (or given ones), and an output
/// that is a pure function of its settings and its inputs' files (so a changed input changes it). It counts its
/// runs and can be told to fail part way, after writing half its output and a checkpoint.
/// </summary>
internal sealed class EchoStage : IPipelineStage
{
    private readonly Func<PipelineDefinition, JsonObject> _settings;

    public EchoStage(IPipelineStage real)
    {
        Name = real.Name;
        Inputs = real.Inputs;
        _settings = real.ResolveSettings;
    }

    public EchoStage(string name, string[] inputs, Func<PipelineDefinition, JsonObject>? settings = null)
    {
        Name = name;
        Inputs = inputs;
        _settings = settings ?? (_ => new JsonObject());
    }

    public string Name { get; }

    public string Description => "test stage";

    public IReadOnlyList<string> Inputs { get; }

    public int Runs { get; private set; }

    /// <summary>When set, the next run writes half its output and a checkpoint, then throws this.</summary>
    public Exception? FailNextRunWith { get; set; }

    /// <summary>What the last run found in its work directory (a checkpoint of an interrupted attempt), or null.</summary>
    public string? ResumedFrom { get; private set; }

    /// <summary>Extra text in the output: changing it changes the artifact's digest (as a nondeterministic rerun would).</summary>
    public string Salt { get; set; } = "";

    public JsonObject ResolveSettings(PipelineDefinition pipeline) => _settings(pipeline);

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        Runs++;
        string checkpoint = Path.Combine(context.WorkDirectory, "checkpoint.txt");
        ResumedFrom = File.Exists(checkpoint) ? await File.ReadAllTextAsync(checkpoint, cancellationToken) : null;
        await File.WriteAllTextAsync(context.OutputPath("part-1.txt"), "first half", cancellationToken);
        if (FailNextRunWith is { } failure)
        {
            FailNextRunWith = null;
            await File.WriteAllTextAsync(checkpoint, $"{Name} step 2", cancellationToken);
            throw failure;
        }

        var inputs = string.Join(",", context.Inputs.OrderBy(i => i.Key).Select(i => $"{i.Key}={i.Value.Marker.Digest}"));
        await File.WriteAllTextAsync(context.OutputPath("out/result.txt"), $"{CanonicalJson.Serialize(_settings(context.Pipeline))}|{inputs}|{Salt}", cancellationToken);
        context.AddOutput("result", "out/result.txt");
    }
}
