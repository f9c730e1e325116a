namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Free and total memory of a CUDA device as this process's context sees it (cuMemGetInfo in PyTorch's primary
/// context): the device CUDA_VISIBLE_DEVICES maps the ordinal to, and only its slice under MIG, which NVML's per-GPU
/// numbers do not give. Free memory excludes what every process holds, this one's caching allocator included.
/// </summary>
public static unsafe class CudaDeviceMemory
{
    /// <summary>(free, total) bytes of CUDA device <paramref name="device"/>, or null where the driver cannot say (no driver, no GPU).</summary>
    public static (long Free, long Total)? TryRead(int device)
    {
        try
        {
            CudaDriver.MakeCurrent(device);
            nuint free, total;
            CudaDriver.Check(CudaDriver.Functions.MemGetInfo(&free, &total), "cuMemGetInfo");
            return ((long)free, (long)total);
        }
        catch (CudaDriverException)
        {
            return null;
        }
    }
}
