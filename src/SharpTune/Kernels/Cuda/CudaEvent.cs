namespace SharpTune.Kernels.Cuda;

/// <summary>A CUDA event without timing: a point in a stream that other streams (or the host) can wait for.</summary>
internal sealed unsafe class CudaEvent : IDisposable
{
    private CudaEvent(nint handle)
    {
        Handle = handle;
    }

    public nint Handle { get; private set; }

    public static CudaEvent Create()
    {
        nint handle;
        CudaDriver.Check(CudaDriver.Functions.EventCreate(&handle, CudaDriver.EventDisableTiming), "cuEventCreate");
        return new CudaEvent(handle);
    }

    /// <summary>Whether the work before the event has finished (asks the driver; does not wait).</summary>
    public bool IsComplete
    {
        get
        {
            int result = CudaDriver.Functions.EventQuery(Handle);
            if (result == CudaDriver.NotReady)
            {
                return false;
            }

            CudaDriver.Check(result, "cuEventQuery");
            return true;
        }
    }

    /// <summary>Blocks the host until the event has completed.</summary>
    public void Synchronize() => CudaDriver.Check(CudaDriver.Functions.EventSynchronize(Handle), "cuEventSynchronize");

    public void Dispose()
    {
        // Destroying an event that is still pending is allowed: the driver releases it once it completes.
        if (Handle != 0)
        {
            CudaDriver.Functions.EventDestroy(Handle);
            Handle = 0;
        }
    }
}
