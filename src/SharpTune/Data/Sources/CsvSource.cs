using System.Text;
using System.Text.Json.Nodes;

namespace SharpTune.Data.Sources;

/// <summary>
/// A CSV file (RFC 4180): the first record names the columns; fields may be quoted, with "" for a quote and line
/// breaks inside quotes. Parsed on bytes (the delimiters are ASCII) and each field decoded as strict UTF-8, so an
/// invalid byte is reported with its row. Every value is a string. Rows are numbered from 1 after the header.
/// </summary>
public sealed class CsvSource(string path) : IDataSource
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public string Name => path;

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: file not found");
        }

        byte[] bytes = File.ReadAllBytes(path);
        int position = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        string[]? header = null;
        long row = 0;
        while (position < bytes.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (fields, error) = ReadRecord(bytes, ref position);
            if (header is null)
            {
                if (error is not null)
                {
                    throw new SharpTuneException($"{path}: header: {error}");
                }

                header = Decode(fields, out var problem) ?? throw new SharpTuneException($"{path}: header: {problem}");
                continue;
            }

            row++;
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue; // blank line
            }

            if (error is not null)
            {
                badRows.Handle(new BadRowException(path, row, null, error));
                continue;
            }

            var values = Decode(fields, out var decodeProblem);
            if (values is null)
            {
                badRows.Handle(new BadRowException(path, row, null, decodeProblem!));
                continue;
            }

            if (values.Length != header.Length)
            {
                badRows.Handle(new BadRowException(path, row, null, $"has {values.Length} fields, the header has {header.Length}"));
                continue;
            }

            var record = new JsonObject();
            for (int i = 0; i < header.Length; i++)
            {
                record[header[i]] = values[i];
            }

            yield return new DataRecord(path, row, record);
        }
    }

    private static string[]? Decode(List<byte[]> fields, out string? problem)
    {
        var values = new string[fields.Count];
        for (int i = 0; i < fields.Count; i++)
        {
            try
            {
                values[i] = StrictUtf8.GetString(fields[i]);
            }
            catch (DecoderFallbackException e)
            {
                problem = $"invalid UTF-8 in field {i + 1} at byte {e.Index}";
                return null;
            }
        }

        problem = null;
        return values;
    }

    /// <summary>Reads one record starting at <paramref name="position"/>, leaving it after the record's line break.</summary>
    private static (List<byte[]> Fields, string? Error) ReadRecord(byte[] bytes, ref int position)
    {
        var fields = new List<byte[]>();
        var field = new List<byte>();
        bool quoted = false;
        bool wasQuoted = false;
        string? error = null;
        while (position < bytes.Length)
        {
            byte b = bytes[position++];
            if (quoted)
            {
                if (b == (byte)'"')
                {
                    if (position < bytes.Length && bytes[position] == (byte)'"')
                    {
                        field.Add(b);
                        position++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Add(b);
                }

                continue;
            }

            switch (b)
            {
                case (byte)'"' when field.Count == 0 && !wasQuoted:
                    quoted = wasQuoted = true;
                    break;
                case (byte)'"':
                    error ??= $"a quote inside unquoted field {fields.Count + 1}";
                    field.Add(b);
                    break;
                case (byte)',':
                    fields.Add(field.ToArray());
                    field.Clear();
                    wasQuoted = false;
                    break;
                case (byte)'\r' when position < bytes.Length && bytes[position] == (byte)'\n':
                    break;
                case (byte)'\n':
                    fields.Add(field.ToArray());
                    return (fields, error);
                default:
                    if (wasQuoted)
                    {
                        error ??= $"text after the closing quote of field {fields.Count + 1}";
                    }

                    field.Add(b);
                    break;
            }
        }

        if (quoted)
        {
            error ??= "a quoted field is not closed before the end of the file";
        }

        fields.Add(field.ToArray());
        return (fields, error);
    }
}
