using System.Runtime.InteropServices;
using System.Text;

namespace SharpTune.Kernels.Cuda;

/// <summary>
/// A CUBIN loaded into PyTorch's primary context on one device, and launches of its kernels on the legacy default
/// stream, the stream TorchSharp's work runs on, so kernels are ordered with libtorch's own work.
/// </summary>
public sealed unsafe class CudaModule
{
    private readonly nint _module;
    private readonly Dictionary<string, nint> _functions = [];

    private CudaModule(nint module, int device)
    {
        _module = module;
        Device = device;
    }

    public int Device { get; }

    public static CudaModule Load(byte[] cubin, int device)
    {
        CudaDriver.MakeCurrent(device);
        nint module;
        fixed (byte* image = cubin)
        {
            CudaDriver.Check(CudaDriver.Functions.ModuleLoadData(&module, (nint)image), "cuModuleLoadData");
        }

        return new CudaModule(module, device);
    }

    /// <summary>The compute capability of <paramref name="device"/> as one number, e.g. 90 for 9.0.</summary>
    public static int Architecture(int device)
    {
        var api = CudaDriver.Functions;
        int handle, major, minor;
        CudaDriver.Check(api.DeviceGet(&handle, device), "cuDeviceGet");
        CudaDriver.Check(api.DeviceGetAttribute(&major, CudaDriver.AttributeComputeCapabilityMajor, handle), "cuDeviceGetAttribute");
        CudaDriver.Check(api.DeviceGetAttribute(&minor, CudaDriver.AttributeComputeCapabilityMinor, handle), "cuDeviceGetAttribute");
        return major * 10 + minor;
    }

    /// <summary>
    /// Launches <paramref name="kernel"/>. Each argument must be a blittable value (a device pointer as nint, an int,
    /// a float) and is passed by address as cuLaunchKernel expects.
    /// </summary>
    public void Launch(string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedMemoryBytes, params object[] arguments)
    {
        if (!_functions.TryGetValue(kernel, out nint function))
        {
            byte[] name = Encoding.UTF8.GetBytes(kernel + "\0");
            fixed (byte* text = name)
            {
                CudaDriver.Check(CudaDriver.Functions.ModuleGetFunction(&function, _module, text), $"cuModuleGetFunction({kernel})");
            }

            _functions[kernel] = function;
        }

        CudaDriver.MakeCurrent(Device);
        var handles = new GCHandle[arguments.Length];
        void** pointers = stackalloc void*[arguments.Length];
        try
        {
            for (int i = 0; i < arguments.Length; i++)
            {
                handles[i] = GCHandle.Alloc(arguments[i], GCHandleType.Pinned);
                pointers[i] = (void*)handles[i].AddrOfPinnedObject();
            }

            CudaDriver.Check(CudaDriver.Functions.LaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedMemoryBytes, 0, pointers, null),
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
}
