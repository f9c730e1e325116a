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

    [LibraryImport(Library, EntryPoint = "cuGetErrorString")]
    public static partial int GetErrorString(int result, out nint text);
}
