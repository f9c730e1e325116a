using System.Text.Json.Nodes;
using SharpTune.Gguf;
using SharpTune.Models.Tokenization;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// ExportGguf: base + adapter merged into a 16-bit model, written as one GGUF file per requested type
/// (<c>&lt;name&gt;-&lt;type&gt;.gguf</c>), with an Ollama <c>Modelfile</c> for the smallest of them.
/// </summary>
public sealed class ExportGgufStage : IPipelineStage
{
    public string Name => StageNames.ExportGguf;

    public string Description => "Merge the adapter into the base and export GGUF files (and an Ollama Modelfile).";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.TrainLoRA];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["export"] = StageSettings.ToJson(pipeline.Export);
        settings["name"] = pipeline.Name;
        return settings;
    }

    /// <summary>The GGUF file name of <paramref name="type"/>: <c>&lt;pipeline&gt;-&lt;type&gt;.gguf</c>.</summary>
    public static string FileName(string pipeline, string type) => $"{pipeline}-{type}.gguf";

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var pipeline = context.Pipeline;
        string baseDirectory = context.Input(StageNames.FetchModel).Output("model")!;
        string adapter = context.Input(StageNames.TrainLoRA).Output("adapter")!;
        string merged = AdapterMerge.Merge(baseDirectory, adapter, Path.Combine(context.WorkDirectory, "merged"), context);

        var written = new List<(string Type, string File, long Bytes)>();
        foreach (string type in pipeline.Export.GgufTypes)
        {
            string file = FileName(pipeline.Name, type);
            var result = GgufExporter.Export(merged, context.OutputPath(file), GgufFileTypes.Parse(type), context.Progress,
                new GgufExportOptions { Name = pipeline.Name }, cancellationToken);
            written.Add((type, file, result.FileBytes));
            context.AddOutput("gguf " + type, file);
            context.Log.WriteLine($"  {file}: {result.FileBytes / (double)(1 << 20):0.0} MiB, {result.Tensors.Count} tensors, {result.Elapsed.TotalSeconds:0.0} s");
        }

        if (pipeline.Export.OllamaModelfile && written.Count > 0)
        {
            var smallest = written.MinBy(w => w.Bytes);
            string modelfile = OllamaModelfile.WriteBeside(Path.Combine(context.OutputDirectory, smallest.File), HfTokenizer.Load(merged).ChatTemplate);
            context.AddOutput("modelfile", Path.GetFileName(modelfile));
        }

        return Task.CompletedTask;
    }
}
