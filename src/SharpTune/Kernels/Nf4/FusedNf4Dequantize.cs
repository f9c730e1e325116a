using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Kernels.Nf4;

/// <summary>
/// NF4 dequantization with <see cref="Nf4DequantizeKernel"/> where it applies (CUDA weight, kernels enabled,
/// fp32/bf16/fp16 output, the stored layout the kernel reads, an absmax double-quantized with the
/// <see cref="DynamicQuantizationMap.Signed"/> instance, which every NF4 tensor SharpTune makes or loads uses), else
/// <see cref="Nf4DequantizeReference"/>. The kernel allocates only the output and needs no host synchronization.
/// No autograd: NF4 weights are frozen.
/// </summary>
public static class FusedNf4Dequantize
{
    private const uint Threads = 256;

    public static Tensor Dequantize(Nf4Tensor weight, ScalarType dtype) =>
        Applies(weight, dtype) ? Launch(weight, dtype) : Nf4DequantizeReference.Dequantize(weight, dtype);

    /// <summary>True when <see cref="Dequantize"/> runs the kernel for this weight and dtype.</summary>
    public static bool Applies(Nf4Tensor weight, ScalarType dtype) =>
        FusedKernels.AppliesTo(weight.Packed) && FusedKernels.DtypeSuffix(dtype) is not null
        && weight.BlockSize > 0 && weight.BlockSize % 2 == 0 && weight.Packed.dtype == ScalarType.Byte
        && weight.Packed.numel() == (weight.ElementCount + 1) / 2
        && (weight.Absmax is { } absmax
            ? absmax.dtype == ScalarType.Float32 && absmax.numel() == weight.BlockCount
            : weight.QuantizedAbsmax is { } q && q.BlockSize > 0 && q.Codes.dtype == ScalarType.Byte && q.Codes.numel() == weight.BlockCount
                && q.Absmax.dtype == ScalarType.Float32 && q.Absmax.numel() == (weight.BlockCount + q.BlockSize - 1) / q.BlockSize
                && ReferenceEquals(q.Map, DynamicQuantizationMap.Signed));

    private static Tensor Launch(Nf4Tensor weight, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var output = empty(weight.Shape, dtype, weight.Device);
        long n = weight.ElementCount;
        if (n > 0)
        {
            var packed = weight.Packed.contiguous();
            var absmax = weight.Absmax?.contiguous();
            var codes = weight.QuantizedAbsmax?.Codes.contiguous();
            var scales = weight.QuantizedAbsmax?.Absmax.contiguous();
            int absmaxBlockSize = weight.QuantizedAbsmax?.BlockSize ?? 1;
            nint packedAddress = TensorPointer.Of(packed), outputAddress = TensorPointer.Of(output);
            bool vector = weight.BlockSize % 16 == 0 && packedAddress % 8 == 0 && outputAddress % 16 == 0;
            long work = vector ? Math.Max(n / 16, 8) : (n + 1) / 2; // 16 outputs per thread (the tail needs 8 threads), or 2
            var grid = ((uint)Math.Clamp((work + Threads - 1) / Threads, 1, 65535 * 8), 1u, 1u);
            var module = FusedKernels.Module(Nf4DequantizeKernel.Name, () => Nf4DequantizeKernel.Source, weight.Packed.device_index);
            module.Launch($"nf4_dequantize_{(vector ? "x16_" : "")}{FusedKernels.DtypeSuffix(dtype)}", grid, (Threads, 1, 1), 0,
                packedAddress, absmax is null ? 0 : TensorPointer.Of(absmax),
                codes is null ? 0 : TensorPointer.Of(codes), scales is null ? 0 : TensorPointer.Of(scales),
                weight.AbsmaxOffset, weight.BlockSize, Nf4DequantizeKernel.Shift(weight.BlockSize),
                absmaxBlockSize, Nf4DequantizeKernel.Shift(absmaxBlockSize), outputAddress, n);
        }

        return output.MoveToOuterDisposeScope();
    }
}
