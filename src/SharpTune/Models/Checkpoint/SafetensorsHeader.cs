using System.Text;
using System.Text.Json;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// The parsed and validated header of a safetensors file: tensor entries in file order plus the optional
/// <c>__metadata__</c> string map. Validation follows the format's rules: the header length fits in the file, the
/// header is a JSON object, every dtype is known, every shape is non-negative, every byte range matches
/// <c>product(shape) * element size</c>, and the ranges tile the data section exactly (no overlap, no gap, no
/// trailing bytes). Any violation is a <see cref="SharpTuneException"/> naming the file and the tensor.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>The largest header the format allows (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsHeader(IReadOnlyList<SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata, long headerLength)
    {
        Tensors = tensors;
        Metadata = metadata;
        HeaderLength = headerLength;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Tensors ordered by their position in the data section.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Bytes of JSON after the 8-byte length prefix.</summary>
    public long HeaderLength { get; }

    /// <summary>Where the data section starts in the file.</summary>
    public long DataStart => 8 + HeaderLength;

    public bool TryGet(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>
    /// Validates the length prefix against the file size and parses the JSON header that follows.
    /// </summary>
    /// <param name="file">The file's name, for error messages.</param>
    /// <param name="fileLength">The file's size in bytes.</param>
    /// <param name="readHeader">Reads <c>count</c> bytes at <c>offset</c> of the file.</param>
    public static SafetensorsHeader Read(string file, long fileLength, Func<long, int, byte[]> readHeader)
    {
        if (fileLength < 8)
        {
            throw new SharpTuneException($"{file}: not a safetensors file: {fileLength} bytes is shorter than the 8-byte header length");
        }

        long headerLength = BitConverter.ToInt64(readHeader(0, 8));
        if (headerLength <= 0 || headerLength > MaxHeaderBytes)
        {
            throw new SharpTuneException($"{file}: corrupt safetensors header: header length {headerLength} is outside 1..{MaxHeaderBytes}");
        }

        if (8 + headerLength > fileLength)
        {
            throw new SharpTuneException($"{file}: truncated safetensors file: header of {headerLength} bytes does not fit in {fileLength} bytes");
        }

        byte[] json = readHeader(8, (int)headerLength);
        return Parse(file, json, fileLength - 8 - headerLength, headerLength);
    }

    /// <summary>Parses a header's JSON bytes and checks it against a data section of <paramref name="dataLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(string file, ReadOnlySpan<byte> json, long dataLength, long headerLength)
    {
        JsonDocument document;
        try
        {
            string text = new UTF8Encoding(false, true).GetString(json);
            document = JsonDocument.Parse(text);
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException)
        {
            throw new SharpTuneException($"{file}: corrupt safetensors header: not valid UTF-8 JSON ({FirstLine(e.Message)})");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SharpTuneException($"{file}: corrupt safetensors header: the header is JSON {document.RootElement.ValueKind}, not an object");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new SharpTuneException($"{file}: corrupt safetensors header: tensor '{property.Name}' appears twice");
                }

                if (property.Name == "__metadata__")
                {
                    ReadMetadata(file, property.Value, metadata);
                    continue;
                }

                tensors.Add(ReadEntry(file, property.Name, property.Value, dataLength));
            }

            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expected = 0;
            SafetensorsTensorInfo? previous = null;
            foreach (var tensor in tensors)
            {
                if (tensor.Begin < expected)
                {
                    throw new SharpTuneException($"{file}: corrupt safetensors header: tensor '{tensor.Name}' (bytes {tensor.Begin}..{tensor.End}) overlaps '{previous!.Name}' (bytes {previous.Begin}..{previous.End})");
                }

                if (tensor.Begin > expected)
                {
                    throw new SharpTuneException($"{file}: corrupt safetensors header: tensor '{tensor.Name}' starts at byte {tensor.Begin} of the data, leaving a gap after byte {expected}");
                }

                expected = tensor.End;
                previous = tensor;
            }

            if (expected != dataLength)
            {
                throw new SharpTuneException($"{file}: corrupt safetensors file: the tensors cover {expected} bytes of data but the file holds {dataLength}");
            }

            return new SafetensorsHeader(tensors, metadata, headerLength);
        }
    }

    private static void ReadMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SharpTuneException($"{file}: corrupt safetensors header: __metadata__ is not an object");
        }

        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SharpTuneException($"{file}: corrupt safetensors header: __metadata__ value '{entry.Name}' is not a string");
            }

            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string file, string name, JsonElement value, long dataLength)
    {
        string where = $"{file}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: the entry is not an object");
        }

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: missing string field 'dtype'");
        }

        string dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
        {
            throw new SharpTuneException($"{where}: unknown safetensors dtype '{dtypeName}'");
        }

        long[] shape = ReadIntegers(where, value, "shape", null);
        long[] offsets = ReadIntegers(where, value, "data_offsets", 2);
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
            {
                throw new SharpTuneException($"{where}: corrupt safetensors header: negative dimension {dim} in shape [{string.Join(", ", shape)}]");
            }

            try
            {
                count = checked(count * dim);
            }
            catch (OverflowException)
            {
                throw new SharpTuneException($"{where}: corrupt safetensors header: shape [{string.Join(", ", shape)}] overflows");
            }
        }

        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: data_offsets [{begin}, {end}] are not an ascending range");
        }

        if (end > dataLength)
        {
            throw new SharpTuneException($"{where}: truncated safetensors file: data_offsets [{begin}, {end}] run past the {dataLength} bytes of data");
        }

        long expectedBytes;
        try
        {
            expectedBytes = checked(count * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: shape [{string.Join(", ", shape)}] overflows");
        }

        if (end - begin != expectedBytes)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: {dtype.Name()} shape [{string.Join(", ", shape)}] needs {expectedBytes} bytes but data_offsets [{begin}, {end}] hold {end - begin}");
        }

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(string where, JsonElement entry, string field, int? length)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: missing array field '{field}'");
        }

        var values = new List<long>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number))
            {
                throw new SharpTuneException($"{where}: corrupt safetensors header: '{field}' holds {item.GetRawText()}, not an integer");
            }

            values.Add(number);
        }

        if (length is { } n && values.Count != n)
        {
            throw new SharpTuneException($"{where}: corrupt safetensors header: '{field}' has {values.Count} values, expected {n}");
        }

        return values.ToArray();
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
