using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// Collects named tensors (TorchSharp tensors, written in their own element type, or raw bytes) and writes them
/// as one safetensors file, atomically: to a temporary file in the same directory, then renamed. Tensors are
/// referenced, not copied, until <see cref="Write"/>; the caller keeps owning them. Entries are laid out like the
/// reference implementation (larger elements first, then by name) so every tensor is aligned to its element size.
/// </summary>
public sealed class SafetensorsWriter
{
    private const long WriteBlockBytes = 1L << 28;

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Tensors added so far, as they will be described in the header.</summary>
    public IEnumerable<(string Name, SafetensorsDType DType, long[] Shape)> Entries => _entries.Select(e => (e.Name, e.DType, e.Shape));

    /// <summary>Bytes of tensor data added so far.</summary>
    public long DataBytes => _entries.Sum(e => e.ByteLength);

    public SafetensorsWriter Add(string name, Tensor tensor)
    {
        var dtype = SafetensorsDTypes.FromScalarType(tensor.dtype);
        AddEntry(new Entry(name, dtype, tensor.shape, tensor, null));
        return this;
    }

    public SafetensorsWriter AddBytes(string name, SafetensorsDType dtype, long[] shape, byte[] data)
    {
        var entry = new Entry(name, dtype, shape, null, data);
        if (entry.ByteLength != data.Length)
        {
            throw new ArgumentException($"tensor '{name}': {dtype.Name()} [{string.Join(", ", shape)}] needs {entry.ByteLength} bytes, got {data.Length}", nameof(data));
        }

        AddEntry(entry);
        return this;
    }

    /// <summary>Writes the file atomically. <paramref name="metadata"/> defaults to <c>{"format": "pt"}</c>.</summary>
    public void Write(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        string directory = System.IO.Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        string temp = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                WriteTo(stream, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private void WriteTo(Stream stream, IReadOnlyDictionary<string, string> metadata)
    {
        var ordered = _entries.OrderByDescending(e => e.DType.ElementSize()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        byte[] header = HeaderBytes(ordered, metadata);
        stream.Write(BitConverter.GetBytes((long)header.Length));
        stream.Write(header);
        foreach (var entry in ordered)
        {
            if (entry.Data is { } data)
            {
                stream.Write(data);
                continue;
            }

            using var scope = NewDisposeScope();
            var tensor = entry.Tensor!.detach().cpu().contiguous();
            if (entry.ByteLength <= WriteBlockBytes || tensor.shape.Length == 0)
            {
                stream.Write(tensor.bytes);
                continue;
            }

            long rows = tensor.shape[0];
            long rowBytes = entry.ByteLength / Math.Max(1, rows);
            long rowsPerBlock = Math.Max(1, WriteBlockBytes / Math.Max(1, rowBytes));
            for (long row = 0; row < rows; row += rowsPerBlock)
            {
                using var block = tensor.narrow(0, row, Math.Min(rowsPerBlock, rows - row));
                stream.Write(block.bytes);
            }
        }
    }

    private static byte[] HeaderBytes(List<Entry> ordered, IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var entry in ordered)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", entry.DType.Name());
                json.WriteStartArray("shape");
                foreach (long dim in entry.Shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + entry.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += entry.ByteLength;
            }

            json.WriteEndObject();
        }

        // Pad with spaces so the data section starts 8-byte aligned.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }

    private void AddEntry(Entry entry)
    {
        if (entry.Name.Length == 0 || entry.Name == "__metadata__")
        {
            throw new ArgumentException($"'{entry.Name}' is not a valid tensor name");
        }

        if (!_names.Add(entry.Name))
        {
            throw new ArgumentException($"tensor '{entry.Name}' was added twice");
        }

        _entries.Add(entry);
    }

    private sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, Tensor? Tensor, byte[]? Data)
    {
        public long ByteLength { get; } = Shape.Aggregate(1L, (a, b) => a * b) * DType.ElementSize();
    }
}
