using System.Runtime.InteropServices;

namespace SharpTune.Kernels.Cuda;

/// <summary>The CUDA driver API entry points SharpTune uses (libcuda.so.1, installed with the NVIDIA driver).</summary>
internal static partial class CudaDriverNative
{
    public const string Library = "libcuda.so.1";
    public const int Success = 0;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;
    public const int AttributeMultiprocessorCount = 16;
    public const int ErrorNotReady = 600;
    public const uint StreamNonBlocking = 1;
    public const uint EventDisableTiming = 2;

    [LibraryImport(Library, EntryPoint = "cuInit")]
    public static partial int Init(uint flags);

    [LibraryImport(Library, EntryPoint = "cuDeviceGet")]
    public static partial int DeviceGet(out int device, int ordinal);

    [LibraryImport(Library, EntryPoint = "cuDeviceGetAttribute")]
    public static partial int DeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRetain")]
    public static partial int DevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library, EntryPoint = "cuCtxSetCurrent")]
    public static partial int CtxSetCurrent(nint context);

    [LibraryImport(Library, EntryPoint = "cuModuleLoadData")]
    public static partial int ModuleLoadData(out nint module, nint image);

    [LibraryImport(Library, EntryPoint = "cuModuleGetFunction", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(Library, EntryPoint = "cuLaunchKernel")]
    public static unsafe partial int LaunchKernel(
        nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(Library, EntryPoint = "cuMemGetInfo_v2")]
    public static partial int MemGetInfo(out nuint free, out nuint total);

    [LibraryImport(Library, EntryPoint = "cuStreamCreate")]
    public static partial int StreamCreate(out nint stream, uint flags);

    [LibraryImport(Library, EntryPoint = "cuStreamDestroy_v2")]
    public static partial int StreamDestroy(nint stream);

    [LibraryImport(Library, EntryPoint = "cuStreamWaitEvent")]
    public static partial int StreamWaitEvent(nint stream, nint cudaEvent, uint flags);

    [LibraryImport(Library, EntryPoint = "cuStreamSynchronize")]
    public static partial int StreamSynchronize(nint stream);

    [LibraryImport(Library, EntryPoint = "cuEventCreate")]
    public static partial int EventCreate(out nint cudaEvent, uint flags);

    [LibraryImport(Library, EntryPoint = "cuEventDestroy_v2")]
    public static partial int EventDestroy(nint cudaEvent);

    [LibraryImport(Library, EntryPoint = "cuEventRecord")]
    public static partial int EventRecord(nint cudaEvent, nint stream);

    [LibraryImport(Library, EntryPoint = "cuEventSynchronize")]
    public static partial int EventSynchronize(nint cudaEvent);

    [LibraryImport(Library, EntryPoint = "cuEventQuery")]
    public static partial int EventQuery(nint cudaEvent);

    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoHAsync_v2")]
    public static partial int MemcpyDtoHAsync(nint destinationHost, nint sourceDevice, nuint bytes, nint stream);

    [LibraryImport(Library, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    public static partial int MemcpyHtoDAsync(nint destinationDevice, nint sourceHost, nuint bytes, nint stream);

    [LibraryImport(Library, EntryPoint = "cuMemHostAlloc")]
    public static partial int MemHostAlloc(out nint pointer, nuint bytes, uint flags);

    [LibraryImport(Library, EntryPoint = "cuMemFreeHost")]
    public static partial int MemFreeHost(nint pointer);

    [LibraryImport(Library, EntryPoint = "cuGetErrorString")]
    public static partial int GetErrorString(int result, out nint text);
}
