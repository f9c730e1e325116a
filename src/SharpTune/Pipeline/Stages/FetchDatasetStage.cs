using System.Text.Json.Nodes;
using SharpTune.Data.Sources;
using SharpTune.Hub;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// FetchDataset: the training rows as <c>rows.jsonl</c> (one JSON object a line): the first <c>rows</c> of a local
/// file (JSONL, JSON, CSV or Parquet) or of a Hugging Face dataset's split (through its Parquet conversion), and the
/// <c>held_out</c> rows after them as <c>held_out.jsonl</c> (never trained on; Evaluate's held-out loss).
/// </summary>
public sealed class FetchDatasetStage : IPipelineStage
{
    public const string RowsFile = "rows.jsonl";
    public const string HeldOutFile = "held_out.jsonl";

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
        settings["held_out"] = dataset.HeldOut;
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

            var training = dataset.Rows is { } rows ? new RowRangeSource(source, 0, rows) : source;
            long written = JsonLinesWriter.Write(training, context.OutputPath(RowsFile), new BadRowPolicy(skipBadRows: false), context.Progress, cancellationToken);
            if (written == 0)
            {
                throw new SharpTuneException($"{source.Name}: no rows");
            }

            context.AddOutput("rows", RowsFile);
            long heldOut = 0;
            if (dataset.HeldOut > 0 && dataset.Rows is { } start)
            {
                heldOut = JsonLinesWriter.Write(new RowRangeSource(source, start, dataset.HeldOut), context.OutputPath(HeldOutFile), new BadRowPolicy(skipBadRows: false), null, cancellationToken);
                if (heldOut == 0)
                {
                    throw new SharpTuneException($"{source.Name}: no rows after the first {start} to hold out (dataset.held_out: {dataset.HeldOut}); lower dataset.rows or set held_out: 0");
                }

                context.AddOutput("held_out", HeldOutFile);
            }

            context.Log.WriteLine($"  {written} training rows and {heldOut} held-out rows from {source.Name}");
            return Task.CompletedTask;
        }
        finally
        {
            client?.Dispose();
        }
    }
}
