using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune stage &lt;Name&gt;</c>: runs one pipeline stage in this process against the artifact cache (what each
/// Cake task runs, so GPU memory is freed between stages). Its inputs must already be in the cache.
/// </summary>
public static class StageCommand
{
    public static Command Create(CliContext context)
    {
        var name = new Argument<string?>("stage")
        {
            Description = $"The stage to run: {string.Join(", ", StageNames.All)}.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var pipeline = StageOptions.Pipeline();
        var cache = StageOptions.Cache();
        var runId = StageOptions.RunId();
        var force = new Option<bool>("--force") { Description = "Run the stage even if its artifact is cached (the new artifact replaces the old one)." };
        var list = new Option<bool>("--list") { Description = "List the stages, their inputs and whether each is cached, and exit." };

        var command = new Command("stage",
            "Run one pipeline stage, reusing its cached artifact when its settings, inputs and the tool version are unchanged. " +
            "Its input stages must be in the cache: ./build.sh --target=<Stage> runs them first.")
        {
            name, pipeline, cache, runId, force, list,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var progress = new ConsoleProgress(context.Error, interactive: ReferenceEquals(context.Error, Console.Error) ? null : false);
            var runner = StageOptions.CreateRunner(context, parsed.GetValue(pipeline), parsed.GetValue(cache), parsed.GetValue(runId), parsed, progress);
            if (parsed.GetValue(list))
            {
                RunCommand.WritePlan(context.Out, runner);
                return 0;
            }

            string stage = parsed.GetValue(name) ?? throw new SharpTuneException($"name a stage: sharptune stage <{string.Join("|", StageNames.All)}>");
            var record = await runner.RunStageAsync(stage, parsed.GetValue(force), cancellationToken);
            StageOptions.WriteOutputs(context.Out, record.Stage, record.Artifact, record.Outputs);
            context.Out.WriteLine($"manifest       {runner.ManifestPath}");
            return 0;
        });
        return command;
    }
}
