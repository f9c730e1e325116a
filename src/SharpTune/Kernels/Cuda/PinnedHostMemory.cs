namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Page-locked host memory from the CUDA driver (cuMemHostAlloc), which the GPU's copy engines read and write while
/// the host and the compute stream go on: the host side of an asynchronous copy.
/// </summary>
internal sealed unsafe class PinnedHostMemory : IDisposable
{
    private nint _pointer;

    private PinnedHostMemory(nint pointer, long bytes)
    {
        _pointer = pointer;
        Bytes = bytes;
    }

    public long Bytes { get; }

    public nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(PinnedHostMemory));

    /// <summary><paramref name="bytes"/> of pinned memory in the primary context of CUDA device <paramref name="device"/>.</summary>
    public static PinnedHostMemory Allocate(long bytes, int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        CudaDriver.MakeCurrent(device);
        nint pointer;
        int result = CudaDriver.Functions.MemHostAlloc(&pointer, (nuint)bytes, 0);
        if (result != 0)
        {
            throw new SharpTuneException($"could not pin {bytes >> 20} MiB of host memory for offloaded activations " +
                $"({CudaDriver.ErrorText(result)}); offload fewer layers or free host memory");
        }

        return new PinnedHostMemory(pointer, bytes);
    }

    public void Dispose()
    {
        if (_pointer != 0)
        {
            CudaDriver.Functions.MemFreeHost(_pointer);
            _pointer = 0;
        }
    }
}
