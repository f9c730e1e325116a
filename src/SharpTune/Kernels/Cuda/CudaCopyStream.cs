namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A non-blocking CUDA stream in PyTorch's primary context of one device, for copies between device memory and
/// <see cref="PinnedHostMemory"/> that run on the copy engines while kernels run on the legacy default stream (the
/// stream TorchSharp's work and SharpTune's kernels are queued on). The two streams never wait for each other
/// implicitly: <see cref="WaitForCompute"/> and <see cref="CudaEvent.MakeWait"/> through <see cref="MakeComputeWait"/>
/// are the only order between them.
/// </summary>
public sealed class CudaCopyStream : IDisposable
{
    private const nint ComputeStream = 0;
    private readonly nint _context;
    private nint _stream;

    public CudaCopyStream(int device)
    {
        Device = device;
        _context = CudaModule.PrimaryContext(device);
        MakeCurrent();
        CudaModule.Check(CudaDriverNative.StreamCreate(out _stream, CudaDriverNative.StreamNonBlocking), "cuStreamCreate");
    }

    public int Device { get; }

    private nint Stream => _stream != 0 ? _stream : throw new ObjectDisposedException(nameof(CudaCopyStream));

    /// <summary>Copies queued after this start only once the work queued on the compute stream so far has finished.</summary>
    public void WaitForCompute()
    {
        MakeCurrent();
        using var computed = CudaEvent.RecordOn(ComputeStream);
        computed.MakeWait(Stream);
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> from device address <paramref name="source"/> to pinned host memory.</summary>
    public void CopyToHost(PinnedHostMemory destination, nint source, long bytes)
    {
        CheckSize(destination, bytes);
        MakeCurrent();
        CudaModule.Check(CudaDriverNative.MemcpyDtoHAsync(destination.Pointer, source, (nuint)bytes, Stream), "cuMemcpyDtoHAsync");
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> from pinned host memory to device address <paramref name="destination"/>.</summary>
    public void CopyToDevice(nint destination, PinnedHostMemory source, long bytes)
    {
        CheckSize(source, bytes);
        MakeCurrent();
        CudaModule.Check(CudaDriverNative.MemcpyHtoDAsync(destination, source.Pointer, (nuint)bytes, Stream), "cuMemcpyHtoDAsync");
    }

    /// <summary>An event that completes when the copies queued on this stream so far have.</summary>
    public CudaEvent Record()
    {
        MakeCurrent();
        return CudaEvent.RecordOn(Stream);
    }

    /// <summary>Makes the compute stream's work from now on wait, on the GPU, for <paramref name="copied"/>.</summary>
    public void MakeComputeWait(CudaEvent copied)
    {
        MakeCurrent();
        copied.MakeWait(ComputeStream);
    }

    /// <summary>Blocks the host until every copy queued on this stream has finished.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaModule.Check(CudaDriverNative.StreamSynchronize(Stream), "cuStreamSynchronize");
    }

    public void Dispose()
    {
        if (_stream != 0)
        {
            MakeCurrent();
            CudaDriverNative.StreamSynchronize(_stream);
            CudaDriverNative.StreamDestroy(_stream);
            _stream = 0;
        }
    }

    private void MakeCurrent() => CudaModule.Check(CudaDriverNative.CtxSetCurrent(_context), "cuCtxSetCurrent");

    private static void CheckSize(PinnedHostMemory host, long bytes)
    {
        if (bytes <= 0 || bytes > host.Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), $"a copy of {bytes} bytes does not fit a pinned buffer of {host.Bytes}");
        }
    }
}
