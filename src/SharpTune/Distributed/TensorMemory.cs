using System.Runtime.InteropServices;
using SharpTune.Runtime;
using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// The raw address of a tensor's first element (PyTorch's <c>tensor.data_ptr()</c>, storage offset included), for
/// handing device memory to NCCL. TorchSharp 0.107 keeps its binding internal, so this binds the same export of its
/// native shim (THSTensor_data), loaded by the path <see cref="TorchRuntime"/> loaded it from.
/// </summary>
public static unsafe class TensorMemory
{
    private static readonly Lazy<nint> DataExport = new(() =>
    {
        var runtime = TorchRuntime.Current ?? throw new InvalidOperationException("call TorchRuntime.Initialize() first");
        nint shim = NativeLibrary.Load(runtime.LibTorchSharpPath);
        return NativeLibrary.GetExport(shim, "THSTensor_data");
    });

    /// <summary>The address of <paramref name="tensor"/>'s data; it must be contiguous (NCCL reads a flat range).</summary>
    public static nint DataPointer(torch.Tensor tensor)
    {
        if (!tensor.is_contiguous())
        {
            throw new ArgumentException("the tensor must be contiguous", nameof(tensor));
        }

        var data = (delegate* unmanaged<nint, nint>)DataExport.Value;
        nint pointer = data(tensor.Handle);
        if (pointer == 0 && tensor.numel() > 0)
        {
            torch.CheckForErrors();
            throw new InvalidOperationException("THSTensor_data returned no address");
        }

        return pointer;
    }
}
