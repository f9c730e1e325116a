// SharpTune's build and pipeline graph, run by build.sh / build.ps1 through the Cake runner (cake.tool).
//   ./build.sh --target=Test           build and run the CPU tests
//   ./build.sh --target=Bundle         the GPU-host bundle (CLI + GPU tests + .NET runtime) in .gpu/
//   ./build.sh --target=Doctor         build the CLI and run `sharptune doctor`
// The work itself lives in the sharptune CLI and the SharpTune library; this file only wires it together.

var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");
var root = MakeAbsolute(Directory("..")).FullPath;
var solution = $"{root}/Pipeline.sln";
var cliProject = $"{root}/src/SharpTune.Cli/SharpTune.Cli.csproj";

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
    .IsDependentOn("Build")
    .Does(() =>
{
    var exit = StartProcess("dotnet", new ProcessSettings {
        Arguments = $"run --no-build -c {configuration} --project \"{cliProject}\" -- doctor",
        WorkingDirectory = root });
    if (exit != 0) throw new Exception($"sharptune doctor failed (exit {exit})");
});

Task("Bundle")
    .Description("Build the GPU-host bundle in .gpu/ (see build/gpu-bundle.sh).")
    .Does(() =>
{
    var exit = StartProcess("bash", new ProcessSettings { Arguments = $"\"{root}/build/gpu-bundle.sh\" \"{root}/.gpu\"", WorkingDirectory = root });
    if (exit != 0) throw new Exception($"gpu-bundle.sh failed (exit {exit})");
});

Task("Default").IsDependentOn("Build");

RunTarget(target);
