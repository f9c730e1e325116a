using SharpTune.Hub;
using SharpTune.Progress;

namespace SharpTune.Data.Sources;

/// <summary>
/// A Hub dataset read through its Parquet conversion: <paramref name="downloadParquetFiles"/> resolves the reference to
/// local Parquet files (the Hub client's <c>ListParquetFilesAsync</c> + download), which are read in order.
/// The row range is applied by the caller through <see cref="RowRangeSource"/>.
/// </summary>
public sealed class HubDatasetSource(
    HubDatasetReference reference,
    Func<HubDatasetReference, CancellationToken, Task<IReadOnlyList<string>>> downloadParquetFiles) : IDataSource
{
    public string Name => reference.ToString();

    /// <summary>
    /// Reads through <paramref name="client"/>: the split's files of the Hub's Parquet conversion (config
    /// <c>default</c> when none is given), downloaded into the Hub cache. The conversion only exists for the dataset's
    /// current revision, so a revision other than <c>main</c> is refused.
    /// </summary>
    public static HubDatasetSource FromClient(HubClient client, HubDatasetReference reference, IProgress<OperationProgress>? progress = null)
    {
        if (reference.Revision is not null and not "main")
        {
            throw new SharpTuneException($"{reference}: the Hub's Parquet conversion serves only the current revision; download the files at revision {reference.Revision} and pass them as local files");
        }

        return new HubDatasetSource(reference, (r, ct) => client.DownloadParquetAsync(r.DatasetId, r.Config ?? "default", r.Split, progress, ct));
    }

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
    {
        var files = downloadParquetFiles(reference, cancellationToken).GetAwaiter().GetResult();
        if (files.Count == 0)
        {
            throw new SharpTuneException($"{Name}: the Hub lists no Parquet files for this config and split");
        }

        long row = 0;
        foreach (var file in files)
        {
            foreach (var record in new ParquetSource(file).Read(badRows, cancellationToken))
            {
                yield return record with { Source = Name, RowNumber = ++row };
            }
        }
    }
}
