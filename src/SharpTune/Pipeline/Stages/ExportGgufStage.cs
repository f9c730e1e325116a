using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>ExportGguf: base + adapter merged into a 16-bit model, written as GGUF in each requested type, with an Ollama Modelfile.</summary>
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

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "SharpTune.Lora.LoraMerger and SharpTune.Gguf.GgufExporter have not landed yet");
}
