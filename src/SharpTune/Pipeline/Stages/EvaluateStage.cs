using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>Evaluate: held-out loss and perplexity before and after tuning, answers side by side, report.md with the loss curve.</summary>
public sealed class EvaluateStage : IPipelineStage
{
    public string Name => StageNames.Evaluate;

    public string Description => "Compare the base and the tuned model on held-out rows; write report.md with the loss curve.";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.QuantizeBase, StageNames.TrainLoRA];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["evaluate"] = StageSettings.ToJson(pipeline.Evaluate);
        settings["file"] = StageSettings.File(pipeline.Evaluate.File, "evaluate.file");
        settings["prompt"] = StageSettings.ToJson(pipeline.Prompt);
        settings["device"] = pipeline.Training.Device;
        settings["precision"] = pipeline.Training.Precision;
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "SharpTune.Models.CausalLM, TextGenerator and PeftAdapter have not landed yet");
}
