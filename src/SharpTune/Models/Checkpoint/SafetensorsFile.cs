using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// A safetensors file opened through a read-only memory mapping. The header is validated on open (see
/// <see cref="SafetensorsHeader"/>); tensor data is read straight from the mapping into libtorch memory, so a
/// checkpoint is never copied whole into managed memory.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest block copied from the mapping in one step.</summary>
    private const long CopyBlockBytes = 1L << 30;

    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private SafetensorsFile(string path, long length, MemoryMappedFile mapping, MemoryMappedViewAccessor view, byte* pointer)
    {
        Path = path;
        Length = length;
        _mapping = mapping;
        _view = view;
        _pointer = pointer;
        try
        {
            Header = SafetensorsHeader.Read(path, length, (offset, count) => new ReadOnlySpan<byte>(_pointer + offset, count).ToArray());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Path { get; }

    public long Length { get; }

    public SafetensorsHeader Header { get; }

    public IReadOnlyList<SafetensorsTensorInfo> Tensors => Header.Tensors;

    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>Opens and validates <paramref name="path"/>; a missing, empty, truncated or corrupt file is a <see cref="SharpTuneException"/>.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: safetensors file not found");
        }

        long length = new FileInfo(path).Length;
        if (length < 8)
        {
            throw new SharpTuneException($"{path}: not a safetensors file: {length} bytes is shorter than the 8-byte header length");
        }

        var mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            return new SafetensorsFile(path, length, mapping, view, pointer);
        }
        catch
        {
            view?.Dispose();
            mapping.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => Header.TryGet(name, out _);

    public SafetensorsTensorInfo Info(string name) =>
        Header.TryGet(name, out var info) ? info : throw new SharpTuneException($"{Path}: no tensor named '{name}'");

    /// <summary>The raw little-endian bytes of a tensor, straight from the mapping (valid until disposed).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = Info(name);
        if (info.ByteLength > int.MaxValue)
        {
            throw new SharpTuneException($"{Path}: tensor '{name}' has {info.ByteLength} bytes, too many for one span; read it as a tensor");
        }

        return new ReadOnlySpan<byte>(DataPointer(info), (int)info.ByteLength);
    }

    /// <summary>
    /// Reads a tensor into libtorch memory, converted to <paramref name="dtype"/> (default: as stored) and moved to
    /// <paramref name="device"/> (default: CPU). The caller owns the result.
    /// </summary>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null) => ReadTensor(name, dtype, device, null);

    internal Tensor ReadTensor(string name, ScalarType? dtype, Device? device, PinnedStaging? staging)
    {
        var info = Info(name);
        var stored = info.DType.ToScalarType()
            ?? throw new SharpTuneException($"{Path}: tensor '{name}' is {info.DType.Name()}, which TorchSharp cannot hold");
        var target = dtype ?? stored;
        var targetDevice = device ?? CPU;
        if (targetDevice.type == TorchSharp.DeviceType.CUDA && staging?.Rent(stored, info.ElementCount) is { } pinned)
        {
            using (pinned)
            {
                CopyInParallel(pinned, info);
                using var shaped = pinned.view(info.Shape);
                var onDevice = shaped.to(targetDevice);
                if (target == stored)
                {
                    return onDevice;
                }

                var converted = onDevice.to(target);
                onDevice.Dispose();
                return converted;
            }
        }

        var cpu = empty(info.Shape, stored, CPU);
        try
        {
            CopyInto(cpu, info);
            if (target == stored && targetDevice.type == TorchSharp.DeviceType.CPU)
            {
                return cpu;
            }

            var moved = cpu.to(target, targetDevice);
            cpu.Dispose();
            return moved;
        }
        catch
        {
            cpu.Dispose();
            throw;
        }
    }

    /// <summary>Copies a tensor's bytes into a contiguous 1-D <paramref name="flat"/> in 64 MiB blocks on several threads.</summary>
    private void CopyInParallel(Tensor flat, SafetensorsTensorInfo info)
    {
        const long block = 64L << 20;
        long elementSize = info.DType.ElementSize();
        long elementsPerBlock = block / elementSize;
        long blocks = (info.ElementCount + elementsPerBlock - 1) / elementsPerBlock;
        nint source = (nint)DataPointer(info);
        Parallel.For(0, blocks, i =>
        {
            long first = i * elementsPerBlock;
            long count = Math.Min(elementsPerBlock, info.ElementCount - first);
            using var part = flat.narrow(0, first, count);
            part.bytes = new Span<byte>((byte*)source + first * elementSize, checked((int)(count * elementSize)));
        });
    }

    private void CopyInto(Tensor destination, SafetensorsTensorInfo info)
    {
        byte* source = DataPointer(info);
        if (info.ByteLength <= CopyBlockBytes || info.Shape.Length == 0)
        {
            destination.bytes = new Span<byte>(source, checked((int)info.ByteLength));
            return;
        }

        // Large tensors go in blocks of whole rows along the first dimension.
        long rowBytes = info.ByteLength / info.Shape[0];
        long rowsPerBlock = Math.Max(1, CopyBlockBytes / Math.Max(1, rowBytes));
        for (long row = 0; row < info.Shape[0]; row += rowsPerBlock)
        {
            long rows = Math.Min(rowsPerBlock, info.Shape[0] - row);
            using var block = destination.narrow(0, row, rows);
            block.bytes = new Span<byte>(source + row * rowBytes, checked((int)(rows * rowBytes)));
        }
    }

    private byte* DataPointer(SafetensorsTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        return _pointer + Header.DataStart + info.Begin;
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        _view.Dispose();
        _mapping.Dispose();
    }
}
