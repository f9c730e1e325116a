namespace SharpTune.Data.Sources;

/// <summary>Rows <c>[start, start + count)</c> of another source (0-based start; all remaining rows when count is null).</summary>
public sealed class RowRangeSource(IDataSource inner, long start, long? count) : IDataSource
{
    public string Name => count is null ? $"{inner.Name} rows {start}.." : $"{inner.Name} rows {start}..{start + count}";

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
    {
        long index = 0;
        foreach (var record in inner.Read(badRows, cancellationToken))
        {
            if (count is long n && index >= start + n)
            {
                yield break;
            }

            if (index++ >= start)
            {
                yield return record;
            }
        }
    }
}
