namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A CUDA event (without timing) in PyTorch's primary context: recorded on a stream, it completes when the work queued
/// on that stream before it has; another stream can be made to wait for it on the GPU, without blocking the host.
/// </summary>
public sealed class CudaEvent : IDisposable
{
    private nint _handle;

    private CudaEvent(nint handle) => _handle = handle;

    /// <summary>A new event recorded on <paramref name="stream"/> (0: the legacy default stream TorchSharp computes on).</summary>
    internal static CudaEvent RecordOn(nint stream)
    {
        CudaModule.Check(CudaDriverNative.EventCreate(out nint handle, CudaDriverNative.EventDisableTiming), "cuEventCreate");
        var recorded = new CudaEvent(handle);
        CudaModule.Check(CudaDriverNative.EventRecord(handle, stream), "cuEventRecord");
        return recorded;
    }

    internal nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaEvent));

    /// <summary>Whether the work before the event has finished (asks the driver; does not wait).</summary>
    public bool IsComplete
    {
        get
        {
            int result = CudaDriverNative.EventQuery(Handle);
            if (result == CudaDriverNative.ErrorNotReady)
            {
                return false;
            }

            CudaModule.Check(result, "cuEventQuery");
            return true;
        }
    }

    /// <summary>Blocks the host until the work before the event has finished.</summary>
    public void Synchronize() => CudaModule.Check(CudaDriverNative.EventSynchronize(Handle), "cuEventSynchronize");

    /// <summary>Makes the work queued on <paramref name="stream"/> from now on wait for this event, on the GPU.</summary>
    internal void MakeWait(nint stream) => CudaModule.Check(CudaDriverNative.StreamWaitEvent(stream, Handle, 0), "cuStreamWaitEvent");

    /// <summary>Frees the event; a wait already queued on it still holds (the driver releases it when it completes).</summary>
    public void Dispose()
    {
        if (_handle != 0)
        {
            CudaDriverNative.EventDestroy(_handle);
            _handle = 0;
        }
    }
}
