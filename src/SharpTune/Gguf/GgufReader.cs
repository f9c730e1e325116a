using System.Buffers.Binary;
using System.Text;

namespace SharpTune.Gguf;

/// <summary>
/// Reads a GGUF file (v2 or v3) and validates all of it before anyone uses it: magic and version, counts against the
/// file size, string lengths and UTF-8, value and element types, nested arrays, <c>general.alignment</c>, tensor
/// names, dimensions, types, row lengths against block sizes, and every tensor's bytes lying inside the file. A corrupt
/// or truncated file gives a <see cref="SharpTuneException"/> naming the file and the field or tensor, never a crash.
/// Tensor data is read on demand.
/// </summary>
public sealed class GgufReader : IDisposable
{
    private readonly FileStream _file;
    private readonly Dictionary<string, GgufValue> _metadata;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    private GgufReader(string path, FileStream file, uint version, List<KeyValuePair<string, GgufValue>> metadata,
        List<GgufTensorInfo> tensors, uint alignment, long dataOffset)
    {
        Path = path;
        _file = file;
        Version = version;
        MetadataInOrder = metadata;
        _metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        Tensors = tensors;
        _tensorsByName = tensors.ToDictionary(t => t.Name);
        Alignment = alignment;
        DataOffset = dataOffset;
    }

    public string Path { get; }

    public uint Version { get; }

    public IReadOnlyList<KeyValuePair<string, GgufValue>> MetadataInOrder { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata => _metadata;

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    public uint Alignment { get; }

    /// <summary>Where the data section starts in the file.</summary>
    public long DataOffset { get; }

    public static GgufReader Open(string path)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SharpTuneException($"{path}: cannot open GGUF file: {e.Message}", e);
        }

        try
        {
            return Parse(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public GgufTensorInfo Tensor(string name) => _tensorsByName.TryGetValue(name, out var info)
        ? info
        : throw new SharpTuneException($"{Path}: no tensor named '{name}'");

    public bool TryGetTensor(string name, out GgufTensorInfo info) => _tensorsByName.TryGetValue(name, out info!);

    public GgufValue? TryGetValue(string key) => _metadata.GetValueOrDefault(key);

    public GgufValue Value(string key) => _metadata.TryGetValue(key, out var value)
        ? value
        : throw new SharpTuneException($"{Path}: metadata key '{key}' is missing");

    /// <summary>The tensor's raw bytes as stored.</summary>
    public byte[] ReadTensorBytes(GgufTensorInfo tensor)
    {
        var bytes = new byte[tensor.ByteSize];
        ReadAt(DataOffset + tensor.Offset, bytes);
        return bytes;
    }

    /// <summary>The tensor's values as float32 (dequantized through the type's codec).</summary>
    public float[] ReadTensorAsFloat32(GgufTensorInfo tensor)
    {
        var codec = GgmlTypeTraits.Of(tensor.Type).Codec
            ?? throw new SharpTuneException($"{Path}: tensor '{tensor.Name}' has type {GgmlTypeTraits.Of(tensor.Type).Name}, which SharpTune cannot dequantize");
        var values = new float[tensor.ElementCount];
        codec.Dequantize(ReadTensorBytes(tensor), values);
        return values;
    }

    public float[] ReadTensorAsFloat32(string name) => ReadTensorAsFloat32(Tensor(name));

    public void Dispose() => _file.Dispose();

    private void ReadAt(long offset, Span<byte> destination)
    {
        lock (_file)
        {
            _file.Position = offset;
            _file.ReadExactly(destination);
        }
    }

    private static GgufReader Parse(string path, FileStream file)
    {
        var r = new HeaderReader(path, file);
        uint magic = r.UInt32("magic");
        if (magic != GgufFormat.Magic)
        {
            throw r.Corrupt("magic", $"expected 'GGUF', found 0x{magic:X8}; not a GGUF file");
        }

        uint version = r.UInt32("version");
        if (version is not (2 or 3))
        {
            throw r.Corrupt("version", $"version {version} is not supported (2 and 3 are)");
        }

        ulong tensorCount = r.UInt64("tensor count");
        ulong kvCount = r.UInt64("metadata count");
        // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 8 + 4 + 8.
        if (kvCount > (ulong)r.Remaining / 13)
        {
            throw r.Corrupt("metadata count", $"{kvCount} entries cannot fit in the {r.Remaining} bytes left");
        }

        if (tensorCount > (ulong)r.Remaining / 32)
        {
            throw r.Corrupt("tensor count", $"{tensorCount} tensors cannot fit in the {r.Remaining} bytes left");
        }

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String($"metadata key #{i}");
            if (!keys.Add(key))
            {
                throw r.Corrupt($"metadata '{key}'", "key appears twice");
            }

            var type = r.ValueType($"metadata '{key}' type");
            metadata.Add(new(key, r.Value(type, $"metadata '{key}'", depth: 0)));
        }

        uint alignment = GgufFormat.DefaultAlignment;
        if (metadata.FirstOrDefault(kv => kv.Key == GgufFormat.AlignmentKey).Value is { } alignValue)
        {
            if (alignValue.Type != GgufValueType.UInt32 || (uint)alignValue.Value == 0 || ((uint)alignValue.Value & ((uint)alignValue.Value - 1)) != 0)
            {
                throw r.Corrupt(GgufFormat.AlignmentKey, $"must be a power-of-two uint32, found {alignValue.Type} {alignValue}");
            }

            alignment = (uint)alignValue.Value;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"tensor #{i} name");
            string field = $"tensor '{name}'";
            if (!names.Add(name))
            {
                throw r.Corrupt(field, "name appears twice");
            }

            uint nDims = r.UInt32($"{field} dimension count");
            if (nDims is < 1 or > GgufFormat.MaxDimensions)
            {
                throw r.Corrupt(field, $"has {nDims} dimensions (1 to {GgufFormat.MaxDimensions} allowed)");
            }

            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong dim = r.UInt64($"{field} dimension {d}");
                if (dim == 0 || dim > long.MaxValue / 2 || elements > long.MaxValue / (long)dim)
                {
                    throw r.Corrupt(field, $"dimension {d} is {dim}");
                }

                dims[d] = (long)dim;
                elements *= (long)dim;
            }

            uint typeNumber = r.UInt32($"{field} type");
            if (!GgmlTypeTraits.TryGet((GgmlType)typeNumber, out var traits))
            {
                throw r.Corrupt(field, $"unknown ggml type {typeNumber}");
            }

            if (dims[0] % traits.BlockElements != 0)
            {
                throw r.Corrupt(field, $"row length {dims[0]} is not a multiple of {traits.Name}'s block of {traits.BlockElements}");
            }

            ulong offset = r.UInt64($"{field} offset");
            if (offset % alignment != 0)
            {
                throw r.Corrupt(field, $"data offset {offset} is not aligned to {alignment}");
            }

            if (offset > long.MaxValue / 2 || elements / traits.BlockElements > long.MaxValue / 2 / traits.BlockBytes)
            {
                throw r.Corrupt(field, $"data offset {offset} or size is out of range");
            }

            tensors.Add(new GgufTensorInfo(name, dims, (GgmlType)typeNumber, (long)offset));
        }

        long dataOffset = GgufFormat.Align(r.Position, alignment);
        long dataBytes = file.Length - dataOffset;
        foreach (var tensor in tensors)
        {
            if (tensor.Offset + tensor.ByteSize > dataBytes)
            {
                throw new SharpTuneException($"{path}: corrupt GGUF: tensor '{tensor.Name}': its {tensor.ByteSize} bytes at data offset {tensor.Offset} run past the end of the file ({Math.Max(0, dataBytes)} data bytes); the file is truncated or damaged");
            }
        }

        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i - 1].Offset + sorted[i - 1].ByteSize > sorted[i].Offset)
            {
                throw new SharpTuneException($"{path}: corrupt GGUF: tensor '{sorted[i].Name}' overlaps tensor '{sorted[i - 1].Name}'");
            }
        }

        return new GgufReader(path, file, version, metadata, tensors, alignment, dataOffset);
    }

    /// <summary>Bounds-checked little-endian reads of the header.</summary>
    private sealed class HeaderReader(string path, FileStream file)
    {
        private const int MaxArrayDepth = 8;
        private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
        private readonly BufferedStream _stream = new(file, 1 << 16);
        private readonly long _length = file.Length;
        private readonly byte[] _scratch = new byte[8];

        public long Position { get; private set; }

        public long Remaining => _length - Position;

        public SharpTuneException Corrupt(string field, string detail) => new($"{path}: corrupt GGUF: {field}: {detail}");

        private ReadOnlySpan<byte> Take(int count, string field)
        {
            if (Remaining < count)
            {
                throw Corrupt(field, $"file ends at byte {_length}, {count} more bytes needed at {Position}; the file is truncated");
            }

            _stream.ReadExactly(_scratch, 0, count);
            Position += count;
            return _scratch.AsSpan(0, count);
        }

        public uint UInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

        public ulong UInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

        public string String(string field)
        {
            ulong length = UInt64(field + " length");
            if (length > (ulong)Remaining)
            {
                throw Corrupt(field, $"string of {length} bytes runs past the end of the file ({Remaining} bytes left)");
            }

            if (length > int.MaxValue)
            {
                throw Corrupt(field, $"string of {length} bytes is too long");
            }

            var bytes = new byte[length];
            _stream.ReadExactly(bytes);
            Position += (long)length;
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw Corrupt(field, "string is not valid UTF-8");
            }
        }

        public GgufValueType ValueType(string field)
        {
            uint type = UInt32(field);
            if (type > (uint)GgufValueType.Float64)
            {
                throw Corrupt(field, $"unknown value type {type}");
            }

            return (GgufValueType)type;
        }

        private static int MinimumBytes(GgufValueType type) => type switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.Array => 12,
            _ => 8,
        };

        public GgufValue Value(GgufValueType type, string field, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return GgufValue.UInt8(Take(1, field)[0]);
                case GgufValueType.Int8: return GgufValue.Int8((sbyte)Take(1, field)[0]);
                case GgufValueType.UInt16: return GgufValue.UInt16(BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field)));
                case GgufValueType.Int16: return GgufValue.Int16(BinaryPrimitives.ReadInt16LittleEndian(Take(2, field)));
                case GgufValueType.UInt32: return GgufValue.UInt32(UInt32(field));
                case GgufValueType.Int32: return GgufValue.Int32(BinaryPrimitives.ReadInt32LittleEndian(Take(4, field)));
                case GgufValueType.Float32: return GgufValue.Float32(BinaryPrimitives.ReadSingleLittleEndian(Take(4, field)));
                case GgufValueType.Bool:
                    byte b = Take(1, field)[0];
                    return b <= 1 ? GgufValue.Bool(b == 1) : throw Corrupt(field, $"bool holds {b}");
                case GgufValueType.String: return GgufValue.String(String(field));
                case GgufValueType.UInt64: return GgufValue.UInt64(UInt64(field));
                case GgufValueType.Int64: return GgufValue.Int64(BinaryPrimitives.ReadInt64LittleEndian(Take(8, field)));
                case GgufValueType.Float64: return GgufValue.Float64(BinaryPrimitives.ReadDoubleLittleEndian(Take(8, field)));
                case GgufValueType.Array:
                    if (depth >= MaxArrayDepth)
                    {
                        throw Corrupt(field, $"arrays nested deeper than {MaxArrayDepth}");
                    }

                    var elementType = ValueType(field + " element type");
                    ulong count = UInt64(field + " element count");
                    if (count > (ulong)(Remaining / MinimumBytes(elementType)))
                    {
                        throw Corrupt(field, $"{count} elements of {elementType} cannot fit in the {Remaining} bytes left");
                    }

                    var items = new GgufValue[count];
                    for (ulong i = 0; i < count; i++)
                    {
                        items[i] = Value(elementType, field, depth + 1);
                    }

                    return GgufValue.Array(elementType, items);
                default:
                    throw Corrupt(field, $"unknown value type {(uint)type}");
            }
        }
    }
}
