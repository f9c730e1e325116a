using System.Text.Json.Nodes;
using SharpTune.Data.Sources;
using SharpTune.Hub;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FetchDataset: the training rows as <c>rows.jsonl</c> (one JSON object a line): the first <c>rows</c> of a local
/// file (JSONL, JSON, CSV or Parquet) or of a Hugging Face dataset's split (through its Parquet conversion).
/// </summary>
public sealed class FetchDatasetStage : IPipelineStage
{
    public const string RowsFile = "rows.jsonl";

    public string Name => StageNames.FetchDataset;

    public string Description => "Fetch the training rows (a local file or a Hugging Face dataset) into rows.jsonl.";

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

    public Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var dataset = context.Pipeline.Dataset;
        HubClient? client = null;
        try
        {
            IDataSource source;
            if (dataset.File is { } file)
            {
                source = DataSourceFactory.OpenFile(file);
            }
            else
            {
                client = new HubClient(HubOptions.FromEnvironment() with { Log = line => context.Log.WriteLine("  " + line) });
                var hub = client;
                source = new HubDatasetSource(new HubDatasetReference(dataset.HubId!, dataset.Config, dataset.Split),
                    (reference, ct) => hub.DownloadParquetAsync(reference.DatasetId, reference.Config ?? "default", reference.Split, context.Progress, ct));
            }

            if (dataset.Rows is { } rows)
            {
                source = new RowRangeSource(source, 0, rows);
            }

            long written = JsonLinesWriter.Write(source, context.OutputPath(RowsFile), new BadRowPolicy(skipBadRows: false), context.Progress, cancellationToken);
            if (written == 0)
            {
                throw new SharpTuneException($"{source.Name}: no rows");
            }

            context.AddOutput("rows", RowsFile);
            context.Log.WriteLine($"  {written} rows from {source.Name}");
            return Task.CompletedTask;
        }
        finally
        {
            client?.Dispose();
        }
    }
}
