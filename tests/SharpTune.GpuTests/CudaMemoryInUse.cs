using System.Runtime.InteropServices;
using SharpTune.Runtime.Nvml;
using static TorchSharp.torch;

namespace SharpTune.GpuTests;

/// <summary>
/// This process's GPU memory (NVML) after PyTorch's caching allocator has given back every cached block it can: what
/// live tensors occupy, plus the CUDA context and library workspaces, which stay constant once warm. TorchSharp 0.107
/// has neither <c>torch.cuda.empty_cache</c> nor <c>memory_allocated</c>; an allocation the device cannot satisfy
/// makes the allocator free its cached blocks (and unmap the free pages of expandable segments) and retry before it
/// reports out of memory, which is what empty_cache does. Readings are exact to the allocator's segment granularity
/// (up to 20 MiB with expandable segments), so compare differences far larger than that.
/// </summary>
internal sealed class CudaMemoryInUse : IDisposable
{
    private readonly GpuMemoryMeter _meter;

    public CudaMemoryInUse()
    {
        int device = GpuMemoryMeter.NvmlIndexOfCudaDevice(0, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
        _meter = new GpuMemoryMeter(device, TimeSpan.FromSeconds(10));
        if (_meter.Unavailable is { } why)
        {
            throw new InvalidOperationException($"GPU memory cannot be read through NVML: {why}");
        }
    }

    public string Source => _meter.Source;

    /// <summary>Runs pending finalizers, frees the allocator's cache and reads the process's GPU memory in bytes.</summary>
    public long Bytes()
    {
        GC.Collect(); // tensors only the finalizer would free go now, not during a later reading
        GC.WaitForPendingFinalizers();
        cuda.synchronize();
        try
        {
            using var impossible = empty([1L << 50], ScalarType.Byte, CUDA); // 1 PiB
            throw new InvalidOperationException("a 1 PiB CUDA allocation succeeded");
        }
        catch (ExternalException e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
        {
            // Out of memory, after the cache was freed: what was wanted.
        }

        cuda.synchronize();
        return _meter.Sample()!.Value;
    }

    public void Dispose() => _meter.Dispose();
}
