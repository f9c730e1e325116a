using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Progress;
using SharpTune.Runtime;

namespace SharpTune.Pipeline.Running;

/// <summary>What a running stage gets: its settings, its inputs' artifacts, where to write, and where to report.</summary>
public sealed class StageContext
{
    private readonly Dictionary<string, string> _outputs = new(StringComparer.Ordinal);

    public StageContext(
        PipelineDefinition pipeline,
        string stage,
        string outputDirectory,
        string workDirectory,
        IReadOnlyDictionary<string, Artifact> inputs,
        TextWriter log,
        IProgress<OperationProgress>? progress,
        TorchRuntimeOptions runtime)
    {
        Pipeline = pipeline;
        Stage = stage;
        OutputDirectory = outputDirectory;
        WorkDirectory = workDirectory;
        Inputs = inputs;
        Log = log;
        Progress = progress;
        Runtime = runtime;
    }

    public PipelineDefinition Pipeline { get; }

    public string Stage { get; }

    /// <summary>The artifact's directory while it is being written (renamed into the cache when the stage succeeds).</summary>
    public string OutputDirectory { get; }

    /// <summary>Scratch space that survives a failed or killed attempt at the same key (for checkpoints); deleted on success.</summary>
    public string WorkDirectory { get; }

    public IReadOnlyDictionary<string, Artifact> Inputs { get; }

    /// <summary>Plain status lines for the run log.</summary>
    public TextWriter Log { get; }

    public IProgress<OperationProgress>? Progress { get; }

    public TorchRuntimeOptions Runtime { get; }

    /// <summary>Named outputs (name -> path relative to <see cref="OutputDirectory"/>), kept in complete.json and the manifest.</summary>
    public IReadOnlyDictionary<string, string> Outputs => _outputs;

    /// <summary>The artifact of input stage <paramref name="stage"/>.</summary>
    public Artifact Input(string stage) => Inputs.TryGetValue(stage, out var artifact)
        ? artifact
        : throw new InvalidOperationException($"stage {Stage} did not declare {stage} as an input");

    /// <summary>Records a named output (a file or folder inside <see cref="OutputDirectory"/>).</summary>
    public void AddOutput(string name, string relativePath) => _outputs[name] = relativePath.Replace('\\', '/');

    /// <summary>A path inside the output directory (its parent folders are created).</summary>
    public string OutputPath(string relativePath)
    {
        string path = Path.Combine(OutputDirectory, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
