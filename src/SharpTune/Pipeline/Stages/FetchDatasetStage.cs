using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FetchDataset: the training rows as <c>rows.jsonl</c> (one JSON object a line): the first <c>rows</c> of a local
/// JSONL file, or of a Hugging Face dataset's split.
/// </summary>
public sealed class FetchDatasetStage : IPipelineStage
{
    public const string RowsFile = "rows.jsonl";

    public string Name => StageNames.FetchDataset;

    public string Description => "Fetch the training rows (a local JSONL file or a Hugging Face dataset) into rows.jsonl.";

    public IReadOnlyList<string> Inputs => [];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var dataset = pipeline.Dataset;
        var settings = StageSettings.Create(1);
        if (dataset.File is { } file)
        {
            settings["source"] = "file";
            settings["file"] = StageSettings.File(file, "dataset.file");
        }
        else
        {
            settings["source"] = "hub";
            settings["id"] = dataset.HubId;
            settings["config"] = dataset.Config;
            settings["split"] = dataset.Split;
        }

        settings["rows"] = dataset.Rows;
        return settings;
    }

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var dataset = context.Pipeline.Dataset;
        if (dataset.File is null)
        {
            throw new StageUnavailableException(Name, "Hub datasets need SharpTune.Hub.HubClient and the data sources, which have not landed yet");
        }

        int count = await CopyRowsAsync(dataset.File, context.OutputPath(RowsFile), dataset.Rows, cancellationToken).ConfigureAwait(false);
        context.AddOutput("rows", RowsFile);
        context.Log.WriteLine($"  {count} rows from {dataset.File}");
    }

    /// <summary>Copies the first <paramref name="limit"/> rows of a JSONL file, checking that each is a JSON object.</summary>
    public static async Task<int> CopyRowsAsync(string source, string destination, int? limit, CancellationToken cancellationToken)
    {
        int count = 0;
        int lineNumber = 0;
        await using var writer = new StreamWriter(destination, false, new UTF8Encoding(false));
        using var reader = new StreamReader(source, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (limit is { } max && count >= max)
            {
                break;
            }

            try
            {
                if (JsonNode.Parse(line) is not JsonObject)
                {
                    throw new SharpTuneException($"{source}:{lineNumber}: each line must be a JSON object");
                }
            }
            catch (JsonException e)
            {
                throw new SharpTuneException($"{source}:{lineNumber}: not valid JSON ({e.Message.Split('.')[0]})");
            }

            await writer.WriteLineAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
            count++;
        }

        if (count == 0)
        {
            throw new SharpTuneException($"{source}: no rows");
        }

        return count;
    }
}
