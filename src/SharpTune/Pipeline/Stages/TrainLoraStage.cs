using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>TrainLoRA: supervised fine-tuning of a LoRA adapter on the (quantized) base; a PEFT adapter and the training log.</summary>
public sealed class TrainLoraStage : IPipelineStage
{
    public const string AdapterFolder = "adapter";
    public const string LogFile = "training-log.jsonl";

    public string Name => StageNames.TrainLoRA;

    public string Description => "Train the LoRA adapter (SFT) and save it in PEFT format with the training log.";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.QuantizeBase, StageNames.FormatPrompts];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["lora"] = StageSettings.ToJson(pipeline.Lora);
        settings["training"] = StageSettings.ToJson(pipeline.Training);
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "SharpTune.Training.SftTrainer and SharpTune.Lora.PeftAdapter have not landed yet");
}
