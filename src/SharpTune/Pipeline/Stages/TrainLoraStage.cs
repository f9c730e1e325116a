using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// TrainLoRA: supervised fine-tuning of a LoRA adapter on the (NF4) base with the trainer; the PEFT
/// adapter (<c>adapter/</c>) and the trainer's JSONL log. The trainer's checkpoints live in the stage's work
/// directory, which survives an interrupted run: starting the stage again resumes from the newest checkpoint.
/// </summary>
public sealed class TrainLoraStage : IPipelineStage
{
    public const string AdapterFolder = "adapter";

    public string Name => StageNames.TrainLoRA;

    public string Description => "Train the LoRA adapter (SFT) and save it in PEFT format with the training log.";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel, StageNames.QuantizeBase, StageNames.FormatPrompts];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["lora"] = StageSettings.ToJson(pipeline.Lora);
        settings["training"] = StageSettings.ToJson(pipeline.Training);
        settings["max_seq_length"] = pipeline.Prompt.MaxSequenceLength;
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "training needs SharpTune.Training.TrainingRun (SFT on a LoRA model, PEFT adapter output), which has not landed yet");
}
