using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FetchModel: the base model as a Hugging Face model folder (config.json, safetensors, tokenizer) under
/// <c>model/</c>: downloaded from the Hub, or made locally with random weights (<c>init:</c>).
/// </summary>
public sealed class FetchModelStage : IPipelineStage
{
    public string Name => StageNames.FetchModel;

    public string Description => "Download the base model from the Hugging Face Hub (or make a tiny one locally).";

    public IReadOnlyList<string> Inputs => [];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var model = pipeline.Model;
        var settings = StageSettings.Create(1);
        if (model.Init is { } init)
        {
            settings["source"] = "init";
            settings["init"] = StageSettings.ToJson(init);
        }
        else
        {
            settings["source"] = "hub";
            settings["id"] = model.HubId;
            settings["revision"] = model.Revision;
        }

        if (model.Tokenizer is { } tokenizer)
        {
            settings["tokenizer"] = StageSettings.Folder(tokenizer, "model.tokenizer", "run build/fetch-tokenizers.sh, or ./build.sh which runs it");
        }

        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var model = context.Pipeline.Model;
        throw model.Init is not null
            ? new StageUnavailableException(Name, "making a tiny model needs SharpTune.Models.TinyModelFactory, which has not landed yet")
            : new StageUnavailableException(Name, "downloading from the Hub needs SharpTune.Hub.HubClient, which has not landed yet");
    }
}
