using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;

namespace SharpTune.Data.Sources;

/// <summary>
/// A Parquet file (Parquet.Net) with flat columns of strings, integers, floating-point numbers or booleans, as the
/// Hugging Face Hub's converted datasets have. Rows are numbered from 1 across row groups.
/// </summary>
public sealed class ParquetSource(string path) : IDataSource
{
    public string Name => path;

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAwaiter().GetResult();

    private async Task<List<DataRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: file not found");
        }

        await using var stream = File.OpenRead(path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or Parquet.ParquetException)
        {
            throw new SharpTuneException($"{path}: not a readable Parquet file ({e.Message})", e);
        }

        await using (reader)
        {
            var records = new List<DataRecord>();
            var fields = reader.Schema.Fields.ToList();
            var dataFields = new List<DataField>();
            foreach (var field in fields)
            {
                if (field is not DataField { IsArray: false } data)
                {
                    throw new SharpTuneException($"{path}: column '{field.Name}' is nested ({field.SchemaType}); only flat columns are supported (convert to JSONL)");
                }

                dataFields.Add(data);
            }

            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                int count = checked((int)group.RowCount);
                var columns = dataFields.Select(f => ReadColumn(group, f, count, cancellationToken)).ToList();
                for (int r = 0; r < count; r++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    row++;
                    var record = new JsonObject();
                    for (int c = 0; c < dataFields.Count; c++)
                    {
                        record[dataFields[c].Name] = columns[c][r];
                    }

                    records.Add(new DataRecord(path, row, record));
                }
            }

            return records;
        }
    }

    private JsonNode?[] ReadColumn(ParquetRowGroupReader group, DataField field, int count, CancellationToken ct)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[count];
            group.ReadAsync(field, values.AsMemory(), null, ct).AsTask().GetAwaiter().GetResult();
            return values.Select(v => v is null ? null : (JsonNode)JsonValue.Create(v)).ToArray();
        }

        return type switch
        {
            _ when type == typeof(long) => Read<long>(group, field, count, ct),
            _ when type == typeof(int) => Read<int>(group, field, count, ct),
            _ when type == typeof(double) => Read<double>(group, field, count, ct),
            _ when type == typeof(float) => Read<float>(group, field, count, ct),
            _ when type == typeof(bool) => Read<bool>(group, field, count, ct),
            _ => throw new SharpTuneException($"{path}: column '{field.Name}' has type {type.Name}, which is not supported"),
        };
    }

    private static JsonNode?[] Read<T>(ParquetRowGroupReader group, DataField field, int count, CancellationToken ct)
        where T : struct
    {
        var values = new T?[count];
        group.ReadAsync(field, values.AsMemory(), null, ct).AsTask().GetAwaiter().GetResult();
        return values.Select(v => v is T value ? JsonValue.Create(value) : null).ToArray();
    }
}
