using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using SharpTune.Cli.Rendering;
using SharpTune.Pipeline.Manifest;
using SharpTune.Pipeline.Running;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune run</c>: runs a pipeline up to a target stage, each stage in its own process (GPU memory is freed
/// between stages), all recorded in one run manifest. The way to run a pipeline where there is no .NET SDK for
/// Cake (the GPU bundle); <c>./build.sh --target=...</c> does the same through Cake.
/// </summary>
public static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var pipeline = StageOptions.Pipeline();
        var cache = StageOptions.Cache();
        var runId = StageOptions.RunId();
        var target = new Option<string>("--target")
        {
            Description = $"The last stage to run; the stages it needs run first. One of {string.Join(", ", StageNames.All)}.",
            DefaultValueFactory = _ => StageNames.Publish,
        };
        var exclusive = new Option<bool>("--exclusive") { Description = "Run the target stage alone, again (its inputs must be cached)." };
        var force = new Option<string[]>("--force")
        {
            Description = "Stages to run even if cached (comma-separated or repeated; 'all' for every stage).",
            AllowMultipleArgumentsPerToken = true,
        };
        var inProcess = new Option<bool>("--in-process") { Description = "Run every stage in this process instead of one process per stage." };
        var check = new Option<bool>("--check") { Description = "Validate the pipeline and show which stages are cached, without running anything." };
        var showRun = new Option<string?>("--show-run") { Description = "Print what run <id> did and where its results are (from its manifest), without running anything." };

        var command = new Command("run", "Run a pipeline up to --target (default Publish), reusing cached stages.")
        {
            pipeline, cache, runId, target, exclusive, force, inProcess, check, showRun,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            using var progress = new ConsoleProgress(context.Error, interactive: ReferenceEquals(context.Error, Console.Error) ? null : false);
            var runner = StageOptions.CreateRunner(context, parsed.GetValue(pipeline), parsed.GetValue(cache), parsed.GetValue(runId), parsed, progress);
            if (parsed.GetValue(check))
            {
                return WritePlan(context.Out, runner) ? 0 : 1;
            }

            if (parsed.GetValue(showRun) is { } shown)
            {
                string path = RunManifestStore.PathFor(runner.Pipeline.OutputDirectory, shown);
                if (!WriteSummary(context.Out, path))
                {
                    throw new SharpTuneException($"no manifest for run {shown} at {path}");
                }

                return 0;
            }

            var forced = new HashSet<string>((parsed.GetValue(force) ?? []).SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)), StringComparer.OrdinalIgnoreCase);
            foreach (string name in forced.Where(f => !f.Equals("all", StringComparison.OrdinalIgnoreCase)))
            {
                _ = runner.Graph.Get(name);
            }

            string targetName = runner.Graph.Get(parsed.GetValue(target)!).Name;
            bool alone = parsed.GetValue(exclusive);
            if (alone)
            {
                forced.Add(targetName);
            }

            if (parsed.GetValue(inProcess))
            {
                await runner.RunAsync(targetName, alone, forced, cancellationToken);
            }
            else
            {
                var stages = alone ? [runner.Graph.Get(targetName)] : runner.Graph.Closure(targetName);
                foreach (var stage in stages)
                {
                    RunChild(context, parsed, stage.Name, runner.Options.RunId, forced.Contains(stage.Name) || forced.Contains("all"),
                        parsed.GetValue(pipeline), parsed.GetValue(cache), cancellationToken);
                }
            }

            WriteSummary(context.Out, runner.ManifestPath);
            return 0;
        });
        return command;
    }

    /// <summary>One line per stage: its inputs and whether its artifact is cached (a stage after an uncached one is pending).</summary>
    public static bool WritePlan(TextWriter writer, PipelineRunner runner)
    {
        bool ok = true;
        writer.WriteLine($"pipeline  {runner.Pipeline.Name} ({runner.Pipeline.Source})");
        writer.WriteLine($"cache     {runner.Cache.Root}");
        foreach (var stage in runner.Graph.Stages)
        {
            StagePlan? plan;
            string? missing;
            try
            {
                (plan, missing) = runner.TryPlan(stage.Name);
            }
            catch (SharpTuneException e)
            {
                writer.WriteLine($"{stage.Name,-14} error      {e.Message}");
                ok = false;
                continue;
            }

            string status = plan is null
                ? $"pending    (after {missing})"
                : runner.Cache.TryGet(stage.Name, plan.Key.Value, out _) ? $"cached     {plan.Key.Short}" : $"to run     {plan.Key.Short}";
            writer.WriteLine($"{stage.Name,-14} {status,-32} {stage.Description}");
        }

        return ok;
    }

    /// <summary>The run's stages and outcomes, and where its results are.</summary>
    public static bool WriteSummary(TextWriter writer, string manifestPath)
    {
        var manifest = RunManifestStore.TryRead(manifestPath);
        if (manifest is null)
        {
            return false;
        }

        writer.WriteLine();
        foreach (var stage in manifest.Stages)
        {
            writer.WriteLine($"{stage.Stage,-14} {stage.Outcome,-11} {stage.Seconds,8:0.0} s  {(stage.Key is null ? "" : stage.Key[..12])}{(stage.Error is null ? "" : "  " + stage.Error)}");
        }

        writer.WriteLine();
        foreach (var stage in manifest.Stages)
        {
            StageOptions.WriteOutputs(writer, stage.Stage, stage.Artifact, stage.Outputs);
        }

        writer.WriteLine($"manifest       {manifestPath}");
        return true;
    }

    private static void RunChild(CliContext context, ParseResult parsed, string stage, string runId, bool force, string? pipeline, string? cache, CancellationToken cancellationToken)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (string argument in (string[])["stage", stage, "--run-id", runId])
        {
            start.ArgumentList.Add(argument);
        }

        void Add(string option, string? value)
        {
            if (value is not null)
            {
                start.ArgumentList.Add(option);
                start.ArgumentList.Add(value);
            }
        }

        Add("--pipeline", pipeline);
        Add("--cache", cache);
        Add("--libtorch", parsed.GetValue(GlobalOptions.LibTorch));
        if (force)
        {
            start.ArgumentList.Add("--force");
        }

        using var process = Process.Start(start) ?? throw new SharpTuneException($"could not start {host}");
        using var registration = cancellationToken.Register(() => process.Kill(entireProcessTree: true));
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new SharpTuneException($"stage {stage} failed (exit {process.ExitCode}); its error is above", process.ExitCode);
        }
    }
}
