namespace SharpTune.Data.Sources;

/// <summary>Opens a local dataset file by its extension: .jsonl/.ndjson, .json, .csv, .parquet.</summary>
public static class DataSourceFactory
{
    public static IDataSource OpenFile(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" or ".ndjson" => new JsonLinesSource(path),
        ".json" => new JsonDocumentSource(path),
        ".csv" => new CsvSource(path),
        ".parquet" => new ParquetSource(path),
        var other => throw new SharpTuneException($"{path}: unknown dataset format '{other}' (use .jsonl, .json, .csv or .parquet)"),
    };
}
