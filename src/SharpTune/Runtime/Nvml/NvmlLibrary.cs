using System.Runtime.InteropServices;
using System.Text;

namespace SharpTune.Runtime.Nvml;

/// <summary>
/// A session with NVML: the driver version, the GPUs, and the GPU memory a process uses. <see cref="TryOpen"/>
/// returns null (with the reason) on hosts without the NVIDIA driver, so callers can report "n/a".
/// </summary>
public sealed class NvmlLibrary : IDisposable
{
    private bool _disposed;

    private NvmlLibrary()
    {
    }

    public static NvmlLibrary? TryOpen(out string? why)
    {
        try
        {
            int result = NvmlNative.Init();
            if (result != NvmlNative.Success)
            {
                why = "NVML failed to initialise: " + ErrorText(result);
                return null;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            why = $"{NvmlNative.Library} is not installed (no NVIDIA driver)";
            return null;
        }

        why = null;
        return new NvmlLibrary();
    }

    public unsafe string DriverVersion()
    {
        byte* buffer = stackalloc byte[96];
        Check(NvmlNative.SystemGetDriverVersion(buffer, 96));
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown";
    }

    public IReadOnlyList<GpuDeviceInfo> Devices()
    {
        Check(NvmlNative.DeviceGetCount(out uint count));
        var devices = new List<GpuDeviceInfo>((int)count);
        for (uint i = 0; i < count; i++)
        {
            nint handle = Handle(i);
            Check(NvmlNative.DeviceGetMemoryInfo(handle, out var memory));
            Check(NvmlNative.DeviceGetCudaComputeCapability(handle, out int major, out int minor));
            devices.Add(new GpuDeviceInfo((int)i, Name(handle), memory.Total, major, minor));
        }

        return devices;
    }

    /// <summary>The device memory in use on GPU <paramref name="index"/>, by every process.</summary>
    public ulong DeviceUsedBytes(int index)
    {
        Check(NvmlNative.DeviceGetMemoryInfo(Handle((uint)index), out var memory));
        return memory.Used;
    }

    /// <summary>The memory process <paramref name="pid"/> holds on GPU <paramref name="index"/>; null if NVML does not list it.</summary>
    public unsafe ulong? ProcessUsedBytes(int index, int pid)
    {
        nint handle = Handle((uint)index);
        uint count = 64;
        var infos = new NvmlNative.ProcessInfo[count];
        int result;
        fixed (NvmlNative.ProcessInfo* p = infos)
        {
            result = NvmlNative.DeviceGetComputeRunningProcesses(handle, ref count, p);
        }

        if (result == NvmlNative.InsufficientSize)
        {
            infos = new NvmlNative.ProcessInfo[count + 16];
            count = (uint)infos.Length;
            fixed (NvmlNative.ProcessInfo* p = infos)
            {
                result = NvmlNative.DeviceGetComputeRunningProcesses(handle, ref count, p);
            }
        }

        Check(result);
        for (int i = 0; i < count; i++)
        {
            if (infos[i].Pid == (uint)pid)
            {
                // NVML reports "not available" as all ones (e.g. without the rights to see per-process usage).
                return infos[i].UsedGpuMemory == ulong.MaxValue ? null : infos[i].UsedGpuMemory;
            }
        }

        return null;
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            NvmlNative.Shutdown();
        }
    }

    private static nint Handle(uint index)
    {
        Check(NvmlNative.DeviceGetHandleByIndex(index, out nint handle));
        return handle;
    }

    private static unsafe string Name(nint handle)
    {
        byte* buffer = stackalloc byte[96];
        Check(NvmlNative.DeviceGetName(handle, buffer, 96));
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown";
    }

    private static void Check(int result)
    {
        if (result != NvmlNative.Success)
        {
            throw new InvalidOperationException("NVML: " + ErrorText(result));
        }
    }

    private static string ErrorText(int result)
    {
        try
        {
            return Marshal.PtrToStringUTF8(NvmlNative.ErrorString(result)) ?? $"error {result}";
        }
        catch (EntryPointNotFoundException)
        {
            return $"error {result}";
        }
    }
}
