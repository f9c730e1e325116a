using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Data.Sources;

/// <summary>A JSON Lines file: one JSON object per line; blank lines are ignored; row numbers are line numbers.</summary>
public sealed class JsonLinesSource(string path) : IDataSource
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public string Name => path;

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: file not found");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long line = 0;
        foreach (var bytes in ReadLines(stream))
        {
            cancellationToken.ThrowIfCancellationRequested();
            line++;
            var record = Parse(bytes, line, badRows);
            if (record is not null)
            {
                yield return record;
            }
        }
    }

    private DataRecord? Parse(byte[] bytes, long line, BadRowPolicy badRows)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            badRows.Handle(new BadRowException(path, line, null, $"invalid UTF-8 at byte {e.Index}", e));
            return null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(text) is JsonObject fields)
            {
                return new DataRecord(path, line, fields);
            }

            badRows.Handle(new BadRowException(path, line, null, "not a JSON object"));
        }
        catch (JsonException e)
        {
            badRows.Handle(new BadRowException(path, line, null, "unparseable JSON: " + e.Message, e));
        }

        return null;
    }

    /// <summary>Splits the stream at '\n' (dropping a '\r' before it and a UTF-8 BOM at the start) without decoding.</summary>
    private static IEnumerable<byte[]> ReadLines(Stream stream)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        bool first = true;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            if (first)
            {
                first = false;
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF)
                {
                    start = 3;
                }
            }

            for (int i = start; i < read; i++)
            {
                if (buffer[i] == (byte)'\n')
                {
                    line.Write(buffer, start, i - start);
                    yield return TrimCarriageReturn(line);
                    line.SetLength(0);
                    start = i + 1;
                }
            }

            line.Write(buffer, start, read - start);
        }

        if (line.Length > 0)
        {
            yield return TrimCarriageReturn(line);
        }
    }

    private static byte[] TrimCarriageReturn(MemoryStream line)
    {
        var bytes = line.ToArray();
        return bytes.Length > 0 && bytes[^1] == (byte)'\r' ? bytes[..^1] : bytes;
    }
}
