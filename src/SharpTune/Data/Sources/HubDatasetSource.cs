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
