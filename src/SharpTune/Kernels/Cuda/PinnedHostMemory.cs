namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Page-locked host memory from the CUDA driver (cuMemHostAlloc), which the GPU's copy engines read and write while
/// the host and the compute stream go on: the host side of an asynchronous copy.
/// </summary>
public sealed class PinnedHostMemory : IDisposable
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
        CudaModule.Check(CudaDriverNative.CtxSetCurrent(CudaModule.PrimaryContext(device)), "cuCtxSetCurrent");
        int result = CudaDriverNative.MemHostAlloc(out nint pointer, (nuint)bytes, 0);
        if (result != CudaDriverNative.Success)
        {
            CudaDriverNative.GetErrorString(result, out nint text);
            throw new SharpTuneException($"could not pin {bytes / (1 << 20)} MiB of host memory for offloaded activations " +
                $"({System.Runtime.InteropServices.Marshal.PtrToStringUTF8(text)}); offload fewer layers or free host memory");
        }

        return new PinnedHostMemory(pointer, bytes);
    }

    public void Dispose()
    {
        if (_pointer != 0)
        {
            CudaDriverNative.MemFreeHost(_pointer);
            _pointer = 0;
        }
    }
}
