namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A CUDA stream handle. <see cref="LegacyDefault"/> (handle 0) is where TorchSharp's libtorch queues all its work:
/// TorchSharp never changes PyTorch's current stream, and PyTorch's default stream is the legacy default stream.
/// </summary>
internal sealed unsafe class CudaStream : IDisposable
{
    private readonly bool _owned;

    private CudaStream(nint handle, bool owned)
    {
        Handle = handle;
        _owned = owned;
    }

    /// <summary>The legacy default stream: PyTorch's current stream in a TorchSharp process.</summary>
    public static CudaStream LegacyDefault { get; } = new(0, owned: false);

    public nint Handle { get; private set; }

    /// <summary>A new stream that does not synchronise implicitly with the legacy default stream.</summary>
    public static CudaStream CreateNonBlocking()
    {
        nint handle;
        CudaDriver.Check(CudaDriver.Functions.StreamCreate(&handle, CudaDriver.StreamNonBlocking), "cuStreamCreate");
        return new CudaStream(handle, owned: true);
    }

    /// <summary>Records an event here: it completes when everything queued here so far has.</summary>
    public CudaEvent Record()
    {
        var recorded = CudaEvent.Create();
        CudaDriver.Check(CudaDriver.Functions.EventRecord(recorded.Handle, Handle), "cuEventRecord");
        return recorded;
    }

    /// <summary>Work queued here after this call waits for <paramref name="done"/> (the host does not wait).</summary>
    public void Wait(CudaEvent done) =>
        CudaDriver.Check(CudaDriver.Functions.StreamWaitEvent(Handle, done.Handle, 0), "cuStreamWaitEvent");

    /// <summary>Blocks the host until everything queued here has finished.</summary>
    public void Synchronize() => CudaDriver.Check(CudaDriver.Functions.StreamSynchronize(Handle), "cuStreamSynchronize");

    public void Dispose()
    {
        if (_owned && Handle != 0)
        {
            CudaDriver.Functions.StreamDestroy(Handle);
            Handle = 0;
        }
    }
}
