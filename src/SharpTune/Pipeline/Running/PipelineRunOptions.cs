using System.Reflection;
using SharpTune.Progress;
using SharpTune.Runtime;

namespace SharpTune.Pipeline.Running;

/// <summary>How a <see cref="PipelineRunner"/> runs: which run it belongs to, where it reports, which libtorch.</summary>
public sealed record PipelineRunOptions
{
    /// <summary>The run's id; stages run by separate processes of one run share it (Cake passes it).</summary>
    public string RunId { get; init; } = Manifest.RunManifestStore.NewRunId();

    /// <summary>The tool version in every cache key. Defaults to SharpTune's version (without the commit).</summary>
    public string ToolVersion { get; init; } = DefaultToolVersion;

    public TextWriter Log { get; init; } = TextWriter.Null;

    public IProgress<OperationProgress>? Progress { get; init; }

    public TorchRuntimeOptions Runtime { get; init; } = new();

    /// <summary>Versions recorded in the manifest (SharpTune, .NET, TorchSharp, libtorch, ...).</summary>
    public IReadOnlyDictionary<string, string> Versions { get; init; } = DefaultVersions();

    public static string DefaultToolVersion { get; } =
        typeof(PipelineRunOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(PipelineRunOptions).Assembly.GetName().Version?.ToString() ?? "0";

    public static IReadOnlyDictionary<string, string> DefaultVersions()
    {
        var versions = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sharptune"] = typeof(PipelineRunOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? DefaultToolVersion,
            ["dotnet"] = Environment.Version.ToString(),
            ["torchsharp"] = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        };
        if (TorchRuntime.Current is { } runtime)
        {
            versions["libtorch"] = runtime.LibTorch.Describe();
        }

        return versions;
    }
}
