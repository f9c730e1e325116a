using System.Buffers.Binary;
using System.Text;

namespace SharpTune.Gguf;

/// <summary>
/// Writes a GGUF v3 file in one pass with bounded memory: declare metadata and tensors (name, dimensions, type), then
/// stream each tensor's bytes in declaration order, in as many pieces as you like, then <see cref="Commit"/>. The file
/// is written to a temporary path beside the target and renamed on commit; disposing without committing deletes it.
/// </summary>
public sealed class GgufWriter : IDisposable
{
    private readonly string _path;
    private readonly string _tempPath;
    private readonly uint _alignment;
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly HashSet<string> _keys = [];
    private readonly List<GgufTensorInfo> _tensors = [];
    private readonly HashSet<string> _tensorNames = [];
    private long _nextOffset;
    private FileStream? _stream;
    private int _current;
    private long _currentWritten;
    private bool _committed;

    /// <param name="path">The file to create (replaced on commit if it exists).</param>
    /// <param name="alignment">Data alignment; anything but 32 is recorded as <c>general.alignment</c>.</param>
    public GgufWriter(string path, uint alignment = GgufFormat.DefaultAlignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentException($"alignment must be a power of two, not {alignment}", nameof(alignment));
        }

        _path = Path.GetFullPath(path);
        _tempPath = _path + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        _alignment = alignment;
        if (alignment != GgufFormat.DefaultAlignment)
        {
            AddMetadata(GgufFormat.AlignmentKey, GgufValue.UInt32(alignment));
        }
    }

    public IReadOnlyList<GgufTensorInfo> Tensors => _tensors;

    public void AddMetadata(string key, GgufValue value)
    {
        EnsureDeclaring();
        if (!_keys.Add(key))
        {
            throw new ArgumentException($"metadata key '{key}' given twice", nameof(key));
        }

        if (key == GgufFormat.AlignmentKey && (value.Type != GgufValueType.UInt32 || (uint)value.Value != _alignment))
        {
            throw new ArgumentException($"{GgufFormat.AlignmentKey} is set through the constructor", nameof(key));
        }

        _metadata.Add(new(key, value));
    }

    /// <summary>Declares a tensor; its bytes come later, in declaration order.</summary>
    /// <param name="dimensions">ggml order: row length first.</param>
    public GgufTensorInfo AddTensor(string name, IReadOnlyList<long> dimensions, GgmlType type)
    {
        EnsureDeclaring();
        if (Encoding.UTF8.GetByteCount(name) >= GgufFormat.MaxTensorNameBytes)
        {
            throw new ArgumentException($"tensor name '{name}' is {GgufFormat.MaxTensorNameBytes} bytes or longer", nameof(name));
        }

        if (!_tensorNames.Add(name))
        {
            throw new ArgumentException($"tensor '{name}' declared twice", nameof(name));
        }

        if (dimensions.Count is < 1 or > GgufFormat.MaxDimensions || dimensions.Any(d => d <= 0))
        {
            throw new ArgumentException($"tensor '{name}' has dimensions [{string.Join(", ", dimensions)}]", nameof(dimensions));
        }

        var info = new GgufTensorInfo(name, dimensions.ToArray(), type, _nextOffset);
        _ = info.ByteSize; // checks the row length against the type's block size
        _tensors.Add(info);
        _nextOffset = GgufFormat.Align(_nextOffset + info.ByteSize, _alignment);
        return info;
    }

    /// <summary>Writes the header (metadata and tensor infos); after this only tensor data may follow.</summary>
    public void BeginTensorData()
    {
        EnsureDeclaring();
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        var buffered = new BufferedStream(_stream, 1 << 20); // flushed, not disposed: it would close the file
        {
            var header = new HeaderWriter(buffered);
            header.UInt32(GgufFormat.Magic);
            header.UInt32(GgufFormat.Version);
            header.UInt64((ulong)_tensors.Count);
            header.UInt64((ulong)_metadata.Count);
            foreach (var (key, value) in _metadata)
            {
                header.String(key);
                header.UInt32((uint)value.Type);
                header.Value(value);
            }

            foreach (var tensor in _tensors)
            {
                header.String(tensor.Name);
                header.UInt32((uint)tensor.Dimensions.Count);
                foreach (long d in tensor.Dimensions)
                {
                    header.UInt64((ulong)d);
                }

                header.UInt32((uint)tensor.Type);
                header.UInt64((ulong)tensor.Offset);
            }

            header.Flush();
        }

        WritePadding(GgufFormat.Align(_stream.Position, _alignment) - _stream.Position);
        _dataStart = _stream.Position;
        _current = 0;
        _currentWritten = 0;
    }

    private long _dataStart;

    /// <summary>Appends bytes of the current tensor; moves on to the next tensor when this one is complete.</summary>
    public void WriteTensorData(ReadOnlySpan<byte> bytes)
    {
        var stream = _stream ?? throw new InvalidOperationException("call BeginTensorData first");
        while (!bytes.IsEmpty)
        {
            if (_current >= _tensors.Count)
            {
                throw new InvalidOperationException($"{bytes.Length} bytes more than the declared tensors hold");
            }

            var tensor = _tensors[_current];
            long left = tensor.ByteSize - _currentWritten;
            int take = (int)Math.Min(left, bytes.Length);
            stream.Write(bytes[..take]);
            bytes = bytes[take..];
            _currentWritten += take;
            if (_currentWritten == tensor.ByteSize)
            {
                _current++;
                _currentWritten = 0;
                long end = _dataStart + tensor.Offset + tensor.ByteSize;
                if (_current < _tensors.Count)
                {
                    WritePadding(_dataStart + _tensors[_current].Offset - end);
                }
            }
        }
    }

    /// <summary>The tensor whose bytes are expected next, or null when all are written.</summary>
    public GgufTensorInfo? CurrentTensor => _stream is not null && _current < _tensors.Count ? _tensors[_current] : null;

    /// <summary>Checks every tensor is complete, flushes to disk and renames the file into place.</summary>
    public void Commit()
    {
        if (_stream is null)
        {
            BeginTensorData();
        }

        if (_current != _tensors.Count)
        {
            throw new InvalidOperationException($"tensor '{_tensors[_current].Name}' has {_currentWritten} of {_tensors[_current].ByteSize} bytes");
        }

        _stream!.Flush(flushToDisk: true);
        _stream.Dispose();
        _stream = null;
        File.Move(_tempPath, _path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (!_committed && File.Exists(_tempPath))
        {
            File.Delete(_tempPath);
        }
    }

    private void EnsureDeclaring()
    {
        if (_stream is not null || _committed)
        {
            throw new InvalidOperationException("metadata and tensors must be declared before BeginTensorData");
        }
    }

    private void WritePadding(long count)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            _stream!.Write(zeros[..n]);
            count -= n;
        }
    }

    /// <summary>Little-endian primitives of the header, into a buffer that is flushed (not closed) at the end.</summary>
    private sealed class HeaderWriter(Stream stream)
    {
        private readonly byte[] _scratch = new byte[8];

        public void UInt32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_scratch, v); stream.Write(_scratch, 0, 4); }

        public void UInt64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_scratch, v); stream.Write(_scratch, 0, 8); }

        public void String(string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            UInt64((ulong)bytes.Length);
            stream.Write(bytes);
        }

        public void Value(GgufValue value)
        {
            switch (value.Type)
            {
                case GgufValueType.UInt8: stream.WriteByte((byte)value.Value); break;
                case GgufValueType.Int8: stream.WriteByte((byte)(sbyte)value.Value); break;
                case GgufValueType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(_scratch, (ushort)value.Value); stream.Write(_scratch, 0, 2); break;
                case GgufValueType.Int16: BinaryPrimitives.WriteInt16LittleEndian(_scratch, (short)value.Value); stream.Write(_scratch, 0, 2); break;
                case GgufValueType.UInt32: UInt32((uint)value.Value); break;
                case GgufValueType.Int32: UInt32(unchecked((uint)(int)value.Value)); break;
                case GgufValueType.Float32: BinaryPrimitives.WriteSingleLittleEndian(_scratch, (float)value.Value); stream.Write(_scratch, 0, 4); break;
                case GgufValueType.Bool: stream.WriteByte((bool)value.Value ? (byte)1 : (byte)0); break;
                case GgufValueType.String: String((string)value.Value); break;
                case GgufValueType.UInt64: UInt64((ulong)value.Value); break;
                case GgufValueType.Int64: UInt64(unchecked((ulong)(long)value.Value)); break;
                case GgufValueType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(_scratch, (double)value.Value); stream.Write(_scratch, 0, 8); break;
                case GgufValueType.Array:
                    var items = value.AsArray();
                    UInt32((uint)value.ElementType);
                    UInt64((ulong)items.Count);
                    foreach (var item in items)
                    {
                        Value(item);
                    }

                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(value), value.Type, "unknown GGUF value type");
            }
        }

        public void Flush() => stream.Flush();
    }
}
