using System.Runtime.InteropServices;

namespace SharpTune.Runtime.Nvml;

/// <summary>P/Invoke declarations for the parts of NVML (libnvidia-ml.so.1, shipped with the NVIDIA driver) we use.</summary>
internal static partial class NvmlNative
{
    public const string Library = "libnvidia-ml.so.1";
    public const int Success = 0;
    public const int InsufficientSize = 7;

    [StructLayout(LayoutKind.Sequential)]
    public struct Memory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ProcessInfo
    {
        public uint Pid;
        public ulong UsedGpuMemory;
        public uint GpuInstanceId;
        public uint ComputeInstanceId;
    }

    [LibraryImport(Library, EntryPoint = "nvmlInit_v2")]
    public static partial int Init();

    [LibraryImport(Library, EntryPoint = "nvmlShutdown")]
    public static partial int Shutdown();

    [LibraryImport(Library, EntryPoint = "nvmlSystemGetDriverVersion")]
    public static unsafe partial int SystemGetDriverVersion(byte* version, uint length);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetCount_v2")]
    public static partial int DeviceGetCount(out uint count);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    public static partial int DeviceGetHandleByIndex(uint index, out nint device);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetName")]
    public static unsafe partial int DeviceGetName(nint device, byte* name, uint length);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetMemoryInfo")]
    public static partial int DeviceGetMemoryInfo(nint device, out Memory memory);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetCudaComputeCapability")]
    public static partial int DeviceGetCudaComputeCapability(nint device, out int major, out int minor);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetComputeRunningProcesses_v3")]
    public static unsafe partial int DeviceGetComputeRunningProcesses(nint device, ref uint count, ProcessInfo* infos);

    [LibraryImport(Library, EntryPoint = "nvmlErrorString")]
    public static partial nint ErrorString(int result);
}
