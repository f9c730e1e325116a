namespace SharpTune.Data.Sources;

/// <summary>A dataset source (a local file or a Hub dataset) read row by row.</summary>
public interface IDataSource
{
    /// <summary>A short description for messages, e.g. the file path.</summary>
    string Name { get; }

    /// <summary>
    /// Reads the rows in order. Rows that cannot be parsed go to <paramref name="badRows"/> (which throws, or counts
    /// and skips them).
    /// </summary>
    IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default);
}
