using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace SharpTune.Kernels;

/// <summary>
/// The address of a tensor's first element (device memory for CUDA tensors), for passing contiguous tensors to
/// hand-written kernels. TorchSharp's managed Storage API covers only some dtypes (not bf16), so this asks TorchSharp's
/// native shim directly: THSTensor_data returns at::Tensor::data_ptr(), storage offset included.
/// </summary>
public static partial class TensorPointer
{
    public static nint Of(Tensor tensor)
    {
        if (!tensor.is_contiguous())
        {
            throw new ArgumentException("kernels take contiguous tensors", nameof(tensor));
        }

        return TensorData(tensor.Handle);
    }

    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static partial nint TensorData(nint tensor);
}
