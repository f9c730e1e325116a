using System.Text.Json.Nodes;
using SharpTune.Hub;
using SharpTune.Models;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;
using SharpTune.Runtime;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FetchModel: the base model as a Hugging Face model folder (config.json, safetensors, tokenizer) under
/// <c>model/</c>: downloaded from the Hub (through the shared Hugging Face cache), or made locally with random
/// weights (<c>init:</c>, <see cref="TinyModelFactory"/>).
/// </summary>
public sealed class FetchModelStage : IPipelineStage
{
    public const string ModelFolder = "model";

    /// <summary>What is downloaded of a model repository: configs, weights and tokenizer files.</summary>
    public static readonly string[] HubPatterns = ["*.json", "*.safetensors", "tokenizer.model"];

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

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var model = context.Pipeline.Model;
        string directory = Path.Combine(context.OutputDirectory, ModelFolder);
        if (model.Init is { } init)
        {
            TorchRuntime.Initialize(context.Runtime);
            var family = Enum.Parse<ModelFamily>(init.Arch, ignoreCase: true);
            var size = Enum.Parse<TinyModelSize>(init.Size, ignoreCase: true);
            var config = TinyModelFactory.Create(directory, new TinyModelOptions(family, size, init.Seed, model.Tokenizer), context.Progress);
            context.Log.WriteLine($"  made a {init.Size} {init.Arch} with random weights (seed {init.Seed}): {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocabulary {config.VocabSize}");
        }
        else
        {
            using var client = new HubClient(HubOptions.FromEnvironment() with { Log = line => context.Log.WriteLine("  " + line) });
            string snapshot = await client.DownloadSnapshotAsync(model.HubId!, RepoType.Model, model.Revision, HubPatterns, context.Progress, cancellationToken).ConfigureAwait(false);
            int files = HubClient.CopySnapshot(snapshot, directory);
            if (model.Tokenizer is { } tokenizer)
            {
                foreach (string file in Directory.EnumerateFiles(tokenizer, "tokenizer*"))
                {
                    File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
                }
            }

            context.Log.WriteLine($"  {model.HubId} at {model.Revision}: {files} files");
        }

        context.AddOutput("model", ModelFolder);
    }
}
