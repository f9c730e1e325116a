using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>Publish: the adapter, the GGUF files, the Modelfile and the report, to a Hugging Face Hub repository or a local folder.</summary>
public sealed class PublishStage : IPipelineStage
{
    public string Name => StageNames.Publish;

    public string Description => "Publish the adapter, GGUF files, Modelfile and report to the Hub (or a local folder).";

    public IReadOnlyList<string> Inputs => [StageNames.TrainLoRA, StageNames.Evaluate, StageNames.ExportGguf];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["publish"] = StageSettings.ToJson(pipeline.Publish);
        settings["name"] = pipeline.Name;
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "publishing is wired once its inputs (TrainLoRA, Evaluate, ExportGguf) are available");
}
