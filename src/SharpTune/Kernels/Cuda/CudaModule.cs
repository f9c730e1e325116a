using System.Runtime.InteropServices;

namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A CUBIN loaded into PyTorch's primary context on one device, and launches of its kernels on the legacy default
/// stream, the stream TorchSharp's work runs on, so kernels are ordered with libtorch's own work.
/// </summary>
public sealed class CudaModule
{
    private readonly nint _module;
    private readonly nint _context;
    private readonly Dictionary<string, nint> _functions = [];

    private CudaModule(nint module, nint context, int device)
    {
        _module = module;
        _context = context;
        Device = device;
    }

    public int Device { get; }

    public static unsafe CudaModule Load(byte[] cubin, int device)
    {
        nint context = PrimaryContext(device);
        nint module;
        fixed (byte* image = cubin)
        {
            Check(CudaDriverNative.ModuleLoadData(out module, (nint)image), "cuModuleLoadData");
        }

        return new CudaModule(module, context, device);
    }

    /// <summary>The compute capability of <paramref name="device"/> as one number, e.g. 90 for 9.0.</summary>
    public static int Architecture(int device)
    {
        Check(CudaDriverNative.Init(0), "cuInit");
        Check(CudaDriverNative.DeviceGet(out int handle, device), "cuDeviceGet");
        Check(CudaDriverNative.DeviceGetAttribute(out int major, CudaDriverNative.AttributeComputeCapabilityMajor, handle), "cuDeviceGetAttribute");
        Check(CudaDriverNative.DeviceGetAttribute(out int minor, CudaDriverNative.AttributeComputeCapabilityMinor, handle), "cuDeviceGetAttribute");
        return major * 10 + minor;
    }

    /// <summary>
    /// Launches <paramref name="kernel"/>. Each argument must be a blittable value (a device pointer as nint, an int,
    /// a float) and is passed by address as cuLaunchKernel expects.
    /// </summary>
    public unsafe void Launch(string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedMemoryBytes, params object[] arguments)
    {
        if (!_functions.TryGetValue(kernel, out nint function))
        {
            Check(CudaDriverNative.ModuleGetFunction(out function, _module, kernel), $"cuModuleGetFunction({kernel})");
            _functions[kernel] = function;
        }

        Check(CudaDriverNative.CtxSetCurrent(_context), "cuCtxSetCurrent");
        var handles = new GCHandle[arguments.Length];
        void** pointers = stackalloc void*[arguments.Length];
        try
        {
            for (int i = 0; i < arguments.Length; i++)
            {
                handles[i] = GCHandle.Alloc(arguments[i], GCHandleType.Pinned);
                pointers[i] = (void*)handles[i].AddrOfPinnedObject();
            }

            Check(CudaDriverNative.LaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedMemoryBytes, 0, pointers, null),
                $"cuLaunchKernel({kernel})");
        }
        finally
        {
            foreach (var handle in handles)
            {
                if (handle.IsAllocated)
                {
                    handle.Free();
                }
            }
        }
    }

    internal static nint PrimaryContext(int device)
    {
        Check(CudaDriverNative.Init(0), "cuInit");
        Check(CudaDriverNative.DeviceGet(out int handle, device), "cuDeviceGet");
        Check(CudaDriverNative.DevicePrimaryCtxRetain(out nint context, handle), "cuDevicePrimaryCtxRetain");
        return context;
    }

    internal static void Check(int result, string what)
    {
        if (result != CudaDriverNative.Success)
        {
            CudaDriverNative.GetErrorString(result, out nint text);
            throw new InvalidOperationException($"CUDA driver: {what} failed: {Marshal.PtrToStringUTF8(text) ?? result.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }
    }
}
