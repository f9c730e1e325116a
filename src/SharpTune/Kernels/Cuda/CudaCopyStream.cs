namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A non-blocking <see cref="CudaStream"/> of one device for copies between device memory and
/// <see cref="PinnedHostMemory"/> that run on the copy engines while kernels run on the legacy default stream (where
/// TorchSharp's work and SharpTune's kernels are queued). The two streams never wait for each other implicitly:
/// <see cref="WaitForCompute"/> and <see cref="MakeComputeWait"/> are the only order between them. Each call makes the
/// device's primary context current first, so any thread may use it.
/// </summary>
internal sealed unsafe class CudaCopyStream : IDisposable
{
    private readonly CudaStream _stream;

    public CudaCopyStream(int device)
    {
        Device = device;
        CudaDriver.MakeCurrent(device);
        _stream = CudaStream.CreateNonBlocking();
    }

    public int Device { get; }

    /// <summary>Copies queued after this start only once the work queued on the compute stream so far has finished.</summary>
    public void WaitForCompute()
    {
        CudaDriver.MakeCurrent(Device);
        using var computed = CudaStream.LegacyDefault.Record();
        _stream.Wait(computed);
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> from device address <paramref name="source"/> to pinned host memory.</summary>
    public void CopyToHost(PinnedHostMemory destination, nint source, long bytes)
    {
        CheckSize(destination, bytes);
        CudaDriver.MakeCurrent(Device);
        CudaDriver.Check(CudaDriver.Functions.MemcpyDtoHAsync(destination.Pointer, source, (nuint)bytes, _stream.Handle), "cuMemcpyDtoHAsync");
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> from pinned host memory to device address <paramref name="destination"/>.</summary>
    public void CopyToDevice(nint destination, PinnedHostMemory source, long bytes)
    {
        CheckSize(source, bytes);
        CudaDriver.MakeCurrent(Device);
        CudaDriver.Check(CudaDriver.Functions.MemcpyHtoDAsync(destination, source.Pointer, (nuint)bytes, _stream.Handle), "cuMemcpyHtoDAsync");
    }

    /// <summary>An event that completes when the copies queued on this stream so far have.</summary>
    public CudaEvent Record()
    {
        CudaDriver.MakeCurrent(Device);
        return _stream.Record();
    }

    /// <summary>Makes the compute stream's work from now on wait, on the GPU, for <paramref name="copied"/>.</summary>
    public void MakeComputeWait(CudaEvent copied)
    {
        CudaDriver.MakeCurrent(Device);
        CudaStream.LegacyDefault.Wait(copied);
    }

    /// <summary>Blocks the host until every copy queued on this stream has finished.</summary>
    public void Synchronize()
    {
        CudaDriver.MakeCurrent(Device);
        _stream.Synchronize();
    }

    public void Dispose()
    {
        CudaDriver.MakeCurrent(Device);
        _stream.Synchronize();
        _stream.Dispose();
    }

    private static void CheckSize(PinnedHostMemory host, long bytes)
    {
        if (bytes <= 0 || bytes > host.Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), $"a copy of {bytes} bytes does not fit a pinned buffer of {host.Bytes}");
        }
    }
}
