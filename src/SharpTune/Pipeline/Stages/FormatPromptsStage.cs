using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>FormatPrompts: the rows through the prompt template and the model's tokenizer, as a tokenized dataset.</summary>
public sealed class FormatPromptsStage : IPipelineStage
{
    public string Name => StageNames.FormatPrompts;

    public string Description => "Format rows with the prompt template and tokenize them (loss only on the answers).";

    public IReadOnlyList<string> Inputs => [StageNames.FetchDataset, StageNames.FetchModel];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["prompt"] = StageSettings.ToJson(pipeline.Prompt);
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken) =>
        throw new StageUnavailableException(Name, "prompt templates and SharpTune.Data.TokenizedDataset have not landed yet");
}
