using System.Diagnostics;

namespace SharpTune.Runtime.Nvml;

/// <summary>
/// Samples this process's GPU memory through NVML on a background thread and keeps the peak. This sees everything
/// the process holds on the device (the caching allocator's reserve, cuBLAS workspaces, the CUDA context), which is
/// what users compare with nvidia-smi. Where NVML does not list the process (some containers), it falls back to the
/// device's used memory minus what was in use when the meter started, and says so in <see cref="Source"/>.
/// On hosts without NVIDIA's driver every reading is "n/a".
/// </summary>
public sealed class GpuMemoryMeter : IDisposable
{
    private readonly NvmlLibrary? _nvml;
    private readonly int _device;
    private readonly int _pid = Environment.ProcessId;
    private readonly ulong _baseline;
    private readonly Thread? _thread;
    private readonly CancellationTokenSource _stop = new();
    private long _peak;
    private long _current;

    public GpuMemoryMeter(int device = 0, TimeSpan? interval = null)
    {
        _device = device;
        _nvml = NvmlLibrary.TryOpen(out string? why);
        if (_nvml is null || device >= _nvml.Devices().Count)
        {
            Unavailable = why ?? $"no GPU {device}";
            Source = "n/a";
            return;
        }

        _baseline = _nvml.DeviceUsedBytes(device);
        Source = "process (NVML)";
        var period = interval ?? TimeSpan.FromMilliseconds(20);
        Sample();
        _thread = new Thread(() =>
        {
            while (!_stop.Token.WaitHandle.WaitOne(period))
            {
                Sample();
            }
        })
        { IsBackground = true, Name = "sharptune-gpu-memory-meter" };
        _thread.Start();
    }

    /// <summary>
    /// The NVML index of CUDA device <paramref name="cudaIndex"/>: NVML numbers every GPU of the host, CUDA only the
    /// ones CUDA_VISIBLE_DEVICES lists, in its order (what `train --gpus N` gives each rank). Entries that are not
    /// plain numbers (GPU or MIG UUIDs) are not mapped: the CUDA index is returned.
    /// </summary>
    public static int NvmlIndexOfCudaDevice(int cudaIndex, string? cudaVisibleDevices)
    {
        if (string.IsNullOrWhiteSpace(cudaVisibleDevices))
        {
            return cudaIndex;
        }

        string[] entries = cudaVisibleDevices.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return cudaIndex < entries.Length && int.TryParse(entries[cudaIndex], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int nvml)
            ? nvml
            : cudaIndex;
    }

    /// <summary>Why there are no readings, or null when the meter works.</summary>
    public string? Unavailable { get; }

    /// <summary>What the readings measure: "process (NVML)", "device minus baseline (NVML)" or "n/a".</summary>
    public string Source { get; private set; }

    /// <summary>The highest reading so far in bytes, or null ("n/a") without NVML.</summary>
    public long? PeakBytes => Unavailable is null ? Interlocked.Read(ref _peak) : null;

    /// <summary>The latest reading in bytes, or null without NVML.</summary>
    public long? CurrentBytes => Unavailable is null ? Interlocked.Read(ref _current) : null;

    /// <summary>Takes a reading now (also called by the sampling thread) and returns it.</summary>
    public long? Sample()
    {
        if (_nvml is null || Unavailable is not null)
        {
            return null;
        }

        long bytes;
        try
        {
            ulong? process = _nvml.ProcessUsedBytes(_device, _pid);
            if (process is not null)
            {
                bytes = (long)process.Value;
            }
            else
            {
                Source = "device minus baseline (NVML)";
                bytes = Math.Max(0, (long)_nvml.DeviceUsedBytes(_device) - (long)_baseline);
            }
        }
        catch (InvalidOperationException)
        {
            return null;
        }

        Interlocked.Exchange(ref _current, bytes);
        long seen;
        while (bytes > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, bytes, seen) != seen)
        {
        }

        return bytes;
    }

    /// <summary>"12.3 GiB", or "n/a" when there is nothing to read.</summary>
    public static string Format(long? bytes) => bytes is null ? "n/a" : $"{bytes.Value / (1024.0 * 1024 * 1024):0.00} GiB";

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _stop.Dispose();
        _nvml?.Dispose();
    }
}
