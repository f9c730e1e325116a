using System.Text.Json.Nodes;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Data.Tokenized;
using SharpTune.Models.Tokenization;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FormatPrompts: every row through the prompt template and the base model's tokenizer, as a tokenized dataset
/// (<c>dataset/</c>: token ids and a completion mask, loss on the answers only) with its statistics.
/// </summary>
public sealed class FormatPromptsStage : IPipelineStage
{
    public const string DatasetFolder = "dataset";

    public string Name => StageNames.FormatPrompts;

    public string Description => "Format rows with the prompt template and tokenize them (loss only on the answers).";

    public IReadOnlyList<string> Inputs => [StageNames.FetchDataset, StageNames.FetchModel];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["prompt"] = StageSettings.ToJson(pipeline.Prompt);
        settings["template"] = PromptTemplateCatalog.Get(pipeline.Prompt.Template).Fingerprint;
        return settings;
    }

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        string rows = context.Input(StageNames.FetchDataset).Output("rows")!;
        string model = context.Input(StageNames.FetchModel).Output("model")!;
        var tokenizer = HfTokenizer.Load(model);
        var template = PromptTemplateCatalog.Get(context.Pipeline.Prompt.Template, tokenizer);
        var result = TokenizedDatasetBuilder.Build(
            new DatasetFormatOptions(new JsonLinesSource(rows), TokenizedDatasetBuilder.FingerprintFile(rows), template, tokenizer, model,
                Path.Combine(context.OutputDirectory, DatasetFolder), context.Pipeline.Prompt.MaxSequenceLength),
            context.Progress, cancellationToken);
        context.AddOutput("dataset", DatasetFolder);
        var s = result.Statistics;
        context.Log.WriteLine($"  {s.Rows} samples with template {template.Name}, max {context.Pipeline.Prompt.MaxSequenceLength} tokens");
        return Task.CompletedTask;
    }
}
