using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace SharpTune.Gguf;

/// <summary>
/// Reads tensors from a directory of safetensors files (one <c>model.safetensors</c> or shards listed in
/// <c>model.safetensors.index.json</c>), validating each header (JSON, dtypes, shapes against byte ranges, ranges
/// inside the file). Reads go straight to the file at an offset: memory stays bounded by what the caller asks for.
/// </summary>
public sealed class SafetensorsTensorSource : IHfTensorSource
{
    private readonly List<SafeFileHandle> _handles = [];
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(string File, SafeFileHandle Handle, string DType, long[] Shape, long Start, long End);

    private SafetensorsTensorSource(string description) => Description = description;

    public string Description { get; }

    public IReadOnlyCollection<string> Names => _entries.Keys;

    public static SafetensorsTensorSource Open(string modelDirectory)
    {
        var files = Directory.Exists(modelDirectory)
            ? Directory.GetFiles(modelDirectory, "*.safetensors").Order(StringComparer.Ordinal).ToArray()
            : throw new SharpTuneException($"{modelDirectory}: model directory not found");
        if (files.Length == 0)
        {
            throw new SharpTuneException($"{modelDirectory}: no *.safetensors files");
        }

        var source = new SafetensorsTensorSource(modelDirectory);
        try
        {
            foreach (var file in files)
            {
                source.AddFile(file);
            }
        }
        catch
        {
            source.Dispose();
            throw;
        }

        return source;
    }

    public (IReadOnlyList<long> Shape, string DType) Describe(string name)
    {
        var entry = Get(name);
        return (entry.Shape, entry.DType);
    }

    public void ReadFloat32(string name, long firstElement, Span<float> destination)
    {
        var entry = Get(name);
        int size = ElementSize(entry.DType);
        long count = entry.Shape.Aggregate(1L, (a, b) => a * b);
        if (firstElement < 0 || firstElement + destination.Length > count)
        {
            throw new ArgumentOutOfRangeException(nameof(firstElement), $"{name}: elements {firstElement}..{firstElement + destination.Length} of {count}");
        }

        long offset = entry.Start + firstElement * size;
        if (entry.DType == "F32")
        {
            ReadExactly(entry, MemoryMarshal.AsBytes(destination), offset);
            return;
        }

        const int chunk = 1 << 16;
        var buffer = new byte[Math.Min(destination.Length, chunk) * size];
        for (int done = 0; done < destination.Length;)
        {
            int n = Math.Min(chunk, destination.Length - done);
            var bytes = buffer.AsSpan(0, n * size);
            ReadExactly(entry, bytes, offset + (long)done * size);
            var target = destination.Slice(done, n);
            switch (entry.DType)
            {
                case "BF16":
                    var bf = MemoryMarshal.Cast<byte, ushort>(bytes);
                    for (int i = 0; i < n; i++)
                    {
                        target[i] = Bf16Codec.ToFloat(bf[i]);
                    }

                    break;
                case "F16":
                    var half = MemoryMarshal.Cast<byte, Half>(bytes);
                    for (int i = 0; i < n; i++)
                    {
                        target[i] = (float)half[i];
                    }

                    break;
                case "F64":
                    var dbl = MemoryMarshal.Cast<byte, double>(bytes);
                    for (int i = 0; i < n; i++)
                    {
                        target[i] = (float)dbl[i];
                    }

                    break;
            }

            done += n;
        }
    }

    public void Dispose()
    {
        foreach (var handle in _handles)
        {
            handle.Dispose();
        }

        _handles.Clear();
    }

    private Entry Get(string name) => _entries.TryGetValue(name, out var entry)
        ? entry
        : throw new SharpTuneException($"{Description}: no tensor named '{name}'");

    private static int ElementSize(string dtype) => dtype switch
    {
        "F32" => 4,
        "F16" or "BF16" => 2,
        "F64" => 8,
        _ => 0,
    };

    private static void ReadExactly(Entry entry, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(entry.Handle, destination, offset);
            if (n <= 0)
            {
                throw new SharpTuneException($"{entry.File}: file ended while reading tensor data at byte {offset}");
            }

            destination = destination[n..];
            offset += n;
        }
    }

    private void AddFile(string file)
    {
        var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        _handles.Add(handle);
        long length = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8 || RandomAccess.Read(handle, prefix, 0) != 8)
        {
            throw new SharpTuneException($"{file}: not a safetensors file (shorter than its 8-byte header length)");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(length - 8) || headerLength > 100_000_000)
        {
            throw new SharpTuneException($"{file}: safetensors header length {headerLength} does not fit the file ({length} bytes)");
        }

        var header = new byte[headerLength];
        if (RandomAccess.Read(handle, header, 8) != header.Length)
        {
            throw new SharpTuneException($"{file}: safetensors header is truncated");
        }

        long dataStart = 8 + (long)headerLength;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{file}: safetensors header is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                string name = property.Name;
                try
                {
                    string dtype = property.Value.GetProperty("dtype").GetString()!;
                    long[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    long[] offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    int size = ElementSize(dtype);
                    if (size == 0)
                    {
                        throw new SharpTuneException($"{file}: tensor '{name}' has dtype {dtype}; export reads F32, F16, BF16 and F64");
                    }

                    long count = shape.Aggregate(1L, (a, b) => a * b);
                    if (offsets.Length != 2 || shape.Any(d => d < 0) || offsets[1] - offsets[0] != count * size || offsets[0] < 0 || dataStart + offsets[1] > length)
                    {
                        throw new SharpTuneException($"{file}: tensor '{name}': data_offsets [{string.Join(", ", offsets)}] do not match shape [{string.Join(", ", shape)}] of {dtype} inside the file");
                    }

                    if (!_entries.TryAdd(name, new Entry(file, handle, dtype, shape, dataStart + offsets[0], dataStart + offsets[1])))
                    {
                        throw new SharpTuneException($"{file}: tensor '{name}' also appears in {_entries[name].File}");
                    }
                }
                catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    throw new SharpTuneException($"{file}: tensor '{name}': malformed header entry ({e.Message})", e);
                }
            }
        }
    }
}
