using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Tests.Pipeline;

/// <summary>A test stage that writes the given files and names the given outputs (to feed a real downstream stage).</summary>
internal sealed class FileStage(string name, string[] inputs, IReadOnlyDictionary<string, string> files, IReadOnlyDictionary<string, string> outputs) : IPipelineStage
{
    public string Name => name;

    public string Description => "test files";

    public IReadOnlyList<string> Inputs => inputs;

    public JsonObject ResolveSettings(PipelineDefinition pipeline) => new() { ["files"] = string.Join(",", files.Keys) };

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        foreach (var (path, content) in files)
        {
            await File.WriteAllTextAsync(context.OutputPath(path), content, cancellationToken);
        }

        foreach (var (output, path) in outputs)
        {
            context.AddOutput(output, path);
        }
    }
}
