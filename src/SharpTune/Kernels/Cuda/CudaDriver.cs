using System.Runtime.InteropServices;

namespace SharpTune.Kernels.Cuda;

/// <summary>
/// The CUDA driver API entry points (libcuda.so.1, installed with the NVIDIA driver) that work beside TorchSharp's
/// stream needs: streams, events, asynchronous copies, pinned host memory and the device's primary context (for
/// gradient synchronisation over NCCL and for activation offload). Loaded by name through the dynamic loader and bound
/// as function pointers, so nothing here touches other assemblies' import resolution. Streams and contexts are the
/// driver's own handles, which the CUDA runtime (PyTorch, NCCL) shares. Also what the runtime-compiled kernels need:
/// modules, launches, device attributes and free memory (<see cref="CudaModule"/>, <see cref="CudaDeviceMemory"/>).
/// </summary>
internal static unsafe class CudaDriver
{
    public const string Library = "libcuda.so.1";

    /// <summary>CU_STREAM_NON_BLOCKING: no implicit synchronisation with the legacy default stream.</summary>
    public const uint StreamNonBlocking = 1;

    /// <summary>CU_EVENT_DISABLE_TIMING: the cheapest event, for ordering only.</summary>
    public const uint EventDisableTiming = 2;

    /// <summary>CUDA_ERROR_NOT_READY: what cuEventQuery returns while the event's work is still running.</summary>
    public const int NotReady = 600;

    /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR and _MINOR.</summary>
    public const int AttributeComputeCapabilityMajor = 75;

    public const int AttributeComputeCapabilityMinor = 76;

    private static readonly Lazy<Api> Loaded = new(Load);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, nint> PrimaryContexts = new();

    public static Api Functions => Loaded.Value;

    /// <summary>Makes GPU <paramref name="ordinal"/>'s primary context (the one PyTorch uses) current on this thread.</summary>
    public static void MakeCurrent(int ordinal)
    {
        var api = Functions;
        // Retained once per device and kept for the life of the process (PyTorch keeps it as long anyway).
        nint context = PrimaryContexts.GetOrAdd(ordinal, static o =>
        {
            var api = Functions;
            int device;
            Check(api.DeviceGet(&device, o), "cuDeviceGet");
            nint retained;
            Check(api.DevicePrimaryCtxRetain(&retained, device), "cuDevicePrimaryCtxRetain");
            return retained;
        });
        Check(api.CtxSetCurrent(context), "cuCtxSetCurrent");
    }

    public static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new CudaDriverException($"CUDA driver call {call} failed: {ErrorText(result)} (CUresult {result})");
        }
    }

    public static string ErrorText(int result)
    {
        byte* text = null;
        return Functions.GetErrorString(result, &text) == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text) ?? "unknown" : "unknown error";
    }

    private static Api Load()
    {
        if (!NativeLibrary.TryLoad(Library, out nint handle))
        {
            throw new CudaDriverException($"{Library} cannot be loaded: GPU work beside TorchSharp's needs the NVIDIA driver");
        }

        var api = new Api
        {
            Init = (delegate* unmanaged<uint, int>)Export(handle, "cuInit"),
            DeviceGet = (delegate* unmanaged<int*, int, int>)Export(handle, "cuDeviceGet"),
            DeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(handle, "cuDeviceGetAttribute"),
            ModuleLoadData = (delegate* unmanaged<nint*, nint, int>)Export(handle, "cuModuleLoadData"),
            ModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Export(handle, "cuModuleGetFunction"),
            LaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export(handle, "cuLaunchKernel"),
            MemGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)Export(handle, "cuMemGetInfo_v2"),
            DevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export(handle, "cuDevicePrimaryCtxRetain"),
            CtxSetCurrent = (delegate* unmanaged<nint, int>)Export(handle, "cuCtxSetCurrent"),
            StreamCreate = (delegate* unmanaged<nint*, uint, int>)Export(handle, "cuStreamCreate"),
            StreamDestroy = (delegate* unmanaged<nint, int>)Export(handle, "cuStreamDestroy_v2"),
            StreamSynchronize = (delegate* unmanaged<nint, int>)Export(handle, "cuStreamSynchronize"),
            StreamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)Export(handle, "cuStreamWaitEvent"),
            EventCreate = (delegate* unmanaged<nint*, uint, int>)Export(handle, "cuEventCreate"),
            EventRecord = (delegate* unmanaged<nint, nint, int>)Export(handle, "cuEventRecord"),
            EventSynchronize = (delegate* unmanaged<nint, int>)Export(handle, "cuEventSynchronize"),
            EventDestroy = (delegate* unmanaged<nint, int>)Export(handle, "cuEventDestroy_v2"),
            EventQuery = (delegate* unmanaged<nint, int>)Export(handle, "cuEventQuery"),
            MemcpyDtoHAsync = (delegate* unmanaged<nint, nint, nuint, nint, int>)Export(handle, "cuMemcpyDtoHAsync_v2"),
            MemcpyHtoDAsync = (delegate* unmanaged<nint, nint, nuint, nint, int>)Export(handle, "cuMemcpyHtoDAsync_v2"),
            MemHostAlloc = (delegate* unmanaged<nint*, nuint, uint, int>)Export(handle, "cuMemHostAlloc"),
            MemFreeHost = (delegate* unmanaged<nint, int>)Export(handle, "cuMemFreeHost"),
            GetErrorString = (delegate* unmanaged<int, byte**, int>)Export(handle, "cuGetErrorString"),
        };
        int init = api.Init(0);
        if (init != 0)
        {
            throw new CudaDriverException($"cuInit failed (CUresult {init}): no usable NVIDIA GPU");
        }

        return api;
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new CudaDriverException($"{Library} has no {name}; the NVIDIA driver is too old");

    /// <summary>The bound entry points (CUresult is an int; 0 is success).</summary>
    public sealed class Api
    {
        public required delegate* unmanaged<uint, int> Init { get; init; }

        public required delegate* unmanaged<int*, int, int> DeviceGet { get; init; }

        /// <summary>cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice device).</summary>
        public required delegate* unmanaged<int*, int, int, int> DeviceGetAttribute { get; init; }

        public required delegate* unmanaged<nint*, nint, int> ModuleLoadData { get; init; }

        /// <summary>cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name).</summary>
        public required delegate* unmanaged<nint*, nint, byte*, int> ModuleGetFunction { get; init; }

        /// <summary>cuLaunchKernel(f, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes, stream, kernelParams, extra).</summary>
        public required delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> LaunchKernel { get; init; }

        /// <summary>cuMemGetInfo_v2(size_t* free, size_t* total), in the current context.</summary>
        public required delegate* unmanaged<nuint*, nuint*, int> MemGetInfo { get; init; }

        public required delegate* unmanaged<nint*, int, int> DevicePrimaryCtxRetain { get; init; }

        public required delegate* unmanaged<nint, int> CtxSetCurrent { get; init; }

        public required delegate* unmanaged<nint*, uint, int> StreamCreate { get; init; }

        public required delegate* unmanaged<nint, int> StreamDestroy { get; init; }

        public required delegate* unmanaged<nint, int> StreamSynchronize { get; init; }

        public required delegate* unmanaged<nint, nint, uint, int> StreamWaitEvent { get; init; }

        public required delegate* unmanaged<nint*, uint, int> EventCreate { get; init; }

        public required delegate* unmanaged<nint, nint, int> EventRecord { get; init; }

        public required delegate* unmanaged<nint, int> EventSynchronize { get; init; }

        public required delegate* unmanaged<nint, int> EventDestroy { get; init; }

        public required delegate* unmanaged<nint, int> EventQuery { get; init; }

        /// <summary>cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t bytes, CUstream).</summary>
        public required delegate* unmanaged<nint, nint, nuint, nint, int> MemcpyDtoHAsync { get; init; }

        /// <summary>cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t bytes, CUstream).</summary>
        public required delegate* unmanaged<nint, nint, nuint, nint, int> MemcpyHtoDAsync { get; init; }

        public required delegate* unmanaged<nint*, nuint, uint, int> MemHostAlloc { get; init; }

        public required delegate* unmanaged<nint, int> MemFreeHost { get; init; }

        public required delegate* unmanaged<int, byte**, int> GetErrorString { get; init; }
    }
}
