using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Kernels.AdamW;

/// <summary>
/// One AdamW update of one parameter as one <see cref="AdamWKernel"/> launch, with float32 or 8-bit block-wise moments.
/// The <c>TryUpdate</c> methods return false, touching nothing, where the kernel does not apply (kernels off, a CPU
/// tensor, a dtype other than f32/bf16/f16, a non-contiguous parameter, moments of another layout, block size or map);
/// the caller then runs <see cref="AdamWReference"/>. No host synchronization.
/// </summary>
public static class FusedAdamW
{
    private const uint Threads = AdamWKernel.QuantizationBlockSize;

    /// <summary>True when <see cref="TryUpdate(Tensor, Tensor, Tensor, Tensor, AdamWStep)"/> launches the kernel.</summary>
    public static bool Applies(Tensor parameter, Tensor gradient, Tensor m, Tensor v) =>
        AppliesToParameter(parameter, gradient) && IsMoment(m, parameter) && IsMoment(v, parameter);

    /// <summary>True when <see cref="TryUpdate(Tensor, Tensor, BlockwiseQuantized, BlockwiseQuantized, AdamWStep)"/> launches the kernel.</summary>
    public static bool Applies(Tensor parameter, Tensor gradient, BlockwiseQuantized m, BlockwiseQuantized v) =>
        AppliesToParameter(parameter, gradient)
        && IsQuantizedMoment(m, DynamicQuantizationMap.Signed, parameter) && IsQuantizedMoment(v, DynamicQuantizationMap.Unsigned, parameter);

    /// <summary>Updates <paramref name="parameter"/> and its float32 moments in place, if the kernel applies.</summary>
    public static bool TryUpdate(Tensor parameter, Tensor gradient, Tensor m, Tensor v, AdamWStep step)
    {
        if (!Applies(parameter, gradient, m, v))
        {
            return false;
        }

        Launch(false, parameter, gradient, [TensorPointer.Of(m), TensorPointer.Of(v)], step);
        return true;
    }

    /// <summary>Updates <paramref name="parameter"/> and its 8-bit moments (codes and absmax) in place, if the kernel applies.</summary>
    public static bool TryUpdate(Tensor parameter, Tensor gradient, BlockwiseQuantized m, BlockwiseQuantized v, AdamWStep step)
    {
        if (!Applies(parameter, gradient, m, v))
        {
            return false;
        }

        Launch(true, parameter, gradient,
            [TensorPointer.Of(m.Codes), TensorPointer.Of(m.Absmax), TensorPointer.Of(v.Codes), TensorPointer.Of(v.Absmax)], step);
        return true;
    }

    /// <summary>
    /// The step's scalars as the kernels take them (ADAMW_SCALAR_PARAMETERS): the float32 values PyTorch's ops compute
    /// with (<see cref="AdamWKernel"/>).
    /// </summary>
    internal static object[] KernelScalars(AdamWStep step) =>
    [
        (float)step.Beta1, (float)(1 - step.Beta1), (float)step.Beta2, (float)(1 - step.Beta2),
        1f / (float)Math.Sqrt(step.Correction2), (float)step.Epsilon, (float)(step.LearningRate / step.Correction1),
        (float)(1 - step.LearningRate * step.WeightDecay),
    ];

    private static bool AppliesToParameter(Tensor parameter, Tensor gradient) =>
        FusedKernels.AppliesTo(parameter) && parameter.is_contiguous()
        && FusedKernels.DtypeSuffix(parameter.dtype) is not null && FusedKernels.DtypeSuffix(gradient.dtype) is not null
        && OnDeviceOf(gradient, parameter) && gradient.numel() == parameter.numel();

    private static bool IsMoment(Tensor moment, Tensor parameter) =>
        moment.dtype == ScalarType.Float32 && moment.is_contiguous() && OnDeviceOf(moment, parameter) && moment.numel() == parameter.numel();

    /// <summary>The kernel bakes in the two dynamic maps and a block size of 256; anything else takes the reference.</summary>
    private static bool IsQuantizedMoment(BlockwiseQuantized moment, IReadOnlyList<float> map, Tensor parameter) =>
        ReferenceEquals(moment.Map, map) && moment.BlockSize == AdamWKernel.QuantizationBlockSize
        && moment.Codes.dtype == ScalarType.Byte && moment.Codes.is_contiguous() && OnDeviceOf(moment.Codes, parameter)
        && moment.Codes.numel() == parameter.numel()
        && moment.Absmax.dtype == ScalarType.Float32 && moment.Absmax.is_contiguous() && OnDeviceOf(moment.Absmax, parameter)
        && moment.Absmax.numel() == (parameter.numel() + AdamWKernel.QuantizationBlockSize - 1) / AdamWKernel.QuantizationBlockSize;

    private static bool OnDeviceOf(Tensor tensor, Tensor parameter) =>
        tensor.device_type == parameter.device_type && tensor.device_index == parameter.device_index;

    private static void Launch(bool eightBit, Tensor parameter, Tensor gradient, nint[] moments, AdamWStep step)
    {
        long n = parameter.numel();
        if (n == 0)
        {
            return;
        }

        using var scope = NewDisposeScope();
        var g = gradient.contiguous();
        string kernel = AdamWKernel.KernelName(eightBit, FusedKernels.DtypeSuffix(parameter.dtype)!, FusedKernels.DtypeSuffix(g.dtype)!);
        long blocks = (n + Threads - 1) / Threads;
        var grid = ((uint)Math.Clamp(blocks, 1, eightBit ? int.MaxValue : 65535 * 8), 1u, 1u);
        object[] arguments = [TensorPointer.Of(parameter), TensorPointer.Of(g), .. moments.Select(pointer => (object)pointer), .. KernelScalars(step), n];
        FusedKernels.Module(AdamWKernel.Name, () => AdamWKernel.Source, parameter.device_index)
            .Launch(kernel, grid, (Threads, 1, 1), 0, arguments);
    }
}
