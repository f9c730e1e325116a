using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Pipeline.Running;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune publish</c>: the Publish stage of a pipeline (its inputs must be in the cache), optionally to another
/// place than the pipeline says: a Hub repository (<c>--repo</c>, token from HF_TOKEN) or a local folder (<c>--to</c>).
/// </summary>
public static class PublishCommand
{
    public static Command Create(CliContext context)
    {
        var pipeline = StageOptions.Pipeline();
        var cache = StageOptions.Cache();
        var runId = StageOptions.RunId();
        var repo = new Option<string?>("--repo") { Description = "Publish to this Hugging Face Hub model repository (owner/name) instead; needs HF_TOKEN." };
        var to = new Option<string?>("--to") { Description = "Publish to this local folder instead." };
        var isPrivate = new Option<bool?>("--private") { Description = "Create the Hub repository private (default: the pipeline's publish.private)." };
        var command = new Command("publish", "Publish a pipeline's adapter, GGUF files, Modelfile and report (to the Hub or a folder). Run its earlier stages first (sharptune run --target ExportGguf).")
        {
            pipeline, cache, runId, repo, to, isPrivate,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            if (parsed.GetValue(repo) is not null && parsed.GetValue(to) is not null)
            {
                throw new SharpTuneException("give --repo or --to, not both");
            }

            using var progress = new ConsoleProgress(context.Error, interactive: ReferenceEquals(context.Error, Console.Error) ? null : false);
            var runner = StageOptions.CreateRunner(context, parsed.GetValue(pipeline), parsed.GetValue(cache), parsed.GetValue(runId), parsed, progress);
            var settings = runner.Pipeline.Publish;
            settings = parsed.GetValue(repo) is { } r ? settings with { HubRepo = r } : settings;
            settings = parsed.GetValue(to) is { } folder ? settings with { HubRepo = null, LocalDirectory = folder } : settings;
            settings = parsed.GetValue(isPrivate) is { } p ? settings with { Private = p } : settings;
            var retargeted = new PipelineRunner(runner.Pipeline with { Publish = settings }, runner.Graph, runner.Cache, runner.Options);
            var record = await retargeted.RunStageAsync(StageNames.Publish, cancellationToken: cancellationToken);
            StageOptions.WriteOutputs(context.Out, record.Stage, record.Artifact, record.Outputs);
            return 0;
        });
        return command;
    }
}
