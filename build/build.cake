// SharpTune's build and pipeline graph, run by build.sh / build.ps1 through the Cake runner (cake.tool).
//   ./build.sh --target=Test           build and run the CPU tests
//   ./build.sh --target=Bundle         the GPU-host bundle (CLI + GPU tests + .NET runtime) in .gpu/
//   ./build.sh --target=Doctor         build the CLI and run `sharptune doctor`
//   ./build.sh --target=Publish        run the pipeline to the end (default: the built-in CPU pipeline)
// Pipeline arguments:
//   --pipeline=pipelines/x.yaml        the pipeline (default: the embedded default, pipelines/default.yaml)
//   --target=<Stage>                   FetchModel, FetchDataset, QuantizeBase, FormatPrompts, TrainLoRA, Evaluate, ExportGguf, Publish
//   --exclusive                        run the target stage alone, again (its inputs must be in the cache)
//   --force=<Stage>[,<Stage>...|all]   run these stages even if their artifacts are cached
//   --cache=DIR                        the artifact cache (default: the pipeline's cache:, $SHARPTUNE_CACHE, .sharptune/cache)
//   --libtorch=DIR                     a libtorch lib directory (e.g. a CUDA PyTorch's torch/lib)
// The work itself lives in the sharptune CLI and the SharpTune library; this file only wires it together. Each stage
// runs `sharptune stage <Name>` in its own process (from the built CLI, not `dotnet run`), so GPU memory is freed
// between stages, and every stage of one invocation records into the same run manifest.

var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");
var pipelineFile = Argument("pipeline", "");
var forceArgument = Argument("force", "");
var cacheDirectory = Argument("cache", "");
var libTorch = Argument("libtorch", "");
// Cake consumes --exclusive itself (it skips the dependencies); the stage also needs to know, to run again.
var exclusive = HasArgument("exclusive") || Environment.GetCommandLineArgs().Any(a => a is "--exclusive" or "-e" or "--exclusive=true");
var runId = Argument("run-id", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x10000):x4}");

var root = MakeAbsolute(Directory("..")).FullPath;
var solution = $"{root}/Pipeline.sln";
var cliProject = $"{root}/src/SharpTune.Cli/SharpTune.Cli.csproj";
var cliDll = $"{root}/src/SharpTune.Cli/bin/{configuration}/net10.0/SharpTune.Cli.dll";
var stages = new[] { "FetchModel", "FetchDataset", "QuantizeBase", "FormatPrompts", "TrainLoRA", "Evaluate", "ExportGguf", "Publish" };
var forced = new HashSet<string>(forceArgument.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
foreach (var name in forced)
{
    if (name != "all" && !stages.Contains(name, StringComparer.OrdinalIgnoreCase))
        throw new Exception($"--force={name}: not a stage; stages: {string.Join(", ", stages)}");
}
var stagesRun = new List<string>();

Task("Build")
    .Description("Restore and build the solution.")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .Description("Run the CPU tests (the same command README.md and CI use).")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest(solution, new DotNetTestSettings { Configuration = configuration, NoBuild = true });
});

Task("Doctor")
    .Description("Check libtorch, CUDA and the GPUs with `sharptune doctor`.")
    .Does(() =>
{
    EnsureCli();
    Sharptune("doctor");
});

Task("Bundle")
    .Description("Build the GPU-host bundle in .gpu/ (see build/gpu-bundle.sh).")
    .Does(() =>
{
    var exit = StartProcess("bash", new ProcessSettings { Arguments = $"\"{root}/build/gpu-bundle.sh\" \"{root}/.gpu\"", WorkingDirectory = root });
    if (exit != 0) throw new Exception($"gpu-bundle.sh failed (exit {exit})");
});

// The pipeline's stages: the dependencies mirror the stages' inputs (src/SharpTune/Pipeline/Stages).
Stage("FetchModel", "Download the base model from the Hugging Face Hub (or make a tiny one locally).");
Stage("FetchDataset", "Fetch the training rows (a local JSONL file or a Hugging Face dataset).");
Stage("QuantizeBase", "Quantize the base model's linear weights to NF4.", "FetchModel");
Stage("FormatPrompts", "Format rows with the prompt template and tokenize them.", "FetchDataset", "FetchModel");
Stage("TrainLoRA", "Train the LoRA adapter and save it in PEFT format.", "QuantizeBase", "FormatPrompts");
Stage("Evaluate", "Compare the base and the tuned model on held-out rows; write report.md.", "TrainLoRA");
Stage("ExportGguf", "Merge the adapter and export GGUF files and an Ollama Modelfile.", "TrainLoRA");
Stage("Publish", "Publish adapter, GGUF, Modelfile and report to the Hub or a local folder.", "Evaluate", "ExportGguf");

Task("Pipeline")
    .Description("Validate the pipeline and show which stages are cached (runs nothing).")
    .Does(() =>
{
    EnsureCli();
    Sharptune("run --check" + PipelineArguments());
});

Task("Default").IsDependentOn("Build");

Teardown(context =>
{
    if (stagesRun.Count > 0)
    {
        // Where the results are: every stage's outputs, from this run's manifest.
        StartProcess("dotnet", new ProcessSettings { Arguments = $"\"{cliDll}\" run --show-run {runId}{PipelineArguments()}", WorkingDirectory = root });
    }
});

RunTarget(target);

void Stage(string name, string description, params string[] inputs)
{
    var task = Task(name).Description(description);
    foreach (var input in inputs)
    {
        task.IsDependentOn(input);
    }

    task.Does(() =>
    {
        EnsureCli();
        // --exclusive asks for this stage alone: it runs again even if cached.
        bool force = forced.Contains(name) || forced.Contains("all") || (exclusive && name.Equals(target, StringComparison.OrdinalIgnoreCase));
        stagesRun.Add(name);
        Sharptune($"stage {name} --run-id {runId}{PipelineArguments()}{(force ? " --force" : "")}");
    });
}

string PipelineArguments()
{
    var text = "";
    if (pipelineFile != "") text += $" --pipeline \"{pipelineFile}\"";
    if (cacheDirectory != "") text += $" --cache \"{cacheDirectory}\"";
    if (libTorch != "") text += $" --libtorch \"{libTorch}\"";
    return text;
}

void Sharptune(string arguments)
{
    var exit = StartProcess("dotnet", new ProcessSettings { Arguments = $"\"{cliDll}\" {arguments}", WorkingDirectory = root });
    if (exit != 0) throw new Exception($"sharptune {arguments.Split(' ')[0]} {arguments.Split(' ').ElementAtOrDefault(1)} failed (exit {exit}); its error is above");
}

// Builds the CLI when it is missing or older than any source file, project file or the embedded pipeline.
bool cliChecked = false;
void EnsureCli()
{
    if (cliChecked) return;
    cliChecked = true;
    var built = System.IO.File.Exists(cliDll) ? System.IO.File.GetLastWriteTimeUtc(cliDll) : DateTime.MinValue;
    var sources = new[] { "src", "pipelines" }
        .SelectMany(d => System.IO.Directory.EnumerateFiles($"{root}/{d}", "*", SearchOption.AllDirectories))
        .Where(f => !f.Contains("/bin/") && !f.Contains("/obj/"))
        .Concat(new[] { $"{root}/Directory.Build.props", $"{root}/Directory.Packages.props" });
    var newest = sources.Where(System.IO.File.Exists).Max(System.IO.File.GetLastWriteTimeUtc);
    if (newest <= built)
    {
        Information($"sharptune CLI is up to date ({cliDll})");
        return;
    }

    DotNetBuild(cliProject, new DotNetBuildSettings { Configuration = configuration });
    // A build that changed nothing keeps the old time stamp; touch so the next check is quick.
    System.IO.File.SetLastWriteTimeUtc(cliDll, DateTime.UtcNow);
}
