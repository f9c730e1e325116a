using SharpTune.Kernels.MultiTensor;
using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Kernels.AdamW;

/// <summary>One parameter's part of a <see cref="MultiTensorAdamW"/> step: the parameter, its gradient and its two moments.</summary>
public sealed class MultiTensorAdamWUpdate
{
    private readonly Tensor? _m, _v;
    private readonly BlockwiseQuantized? _quantizedM, _quantizedV;

    private MultiTensorAdamWUpdate(Tensor parameter, Tensor gradient, Tensor? m, Tensor? v, BlockwiseQuantized? quantizedM, BlockwiseQuantized? quantizedV)
    {
        Parameter = parameter;
        Gradient = gradient;
        _m = m;
        _v = v;
        _quantizedM = quantizedM;
        _quantizedV = quantizedV;
    }

    public Tensor Parameter { get; }

    public Tensor Gradient { get; }

    /// <summary>True for 8-bit block-wise moments, false for float32 ones.</summary>
    public bool EightBit => _quantizedM is not null;

    /// <summary>The launch this update belongs to.</summary>
    public MultiTensorAdamWGroup Group => new(Suffix(Parameter.dtype), Suffix(Gradient.dtype), EightBit);

    /// <summary>
    /// True when the kernel can update this tensor in place: what <see cref="FusedAdamW"/> asks for, and a contiguous
    /// gradient (the kernel reads, and may zero, the gradient's own storage).
    /// </summary>
    public bool Applies => Gradient.is_contiguous()
        && (EightBit ? FusedAdamW.Applies(Parameter, Gradient, _quantizedM!, _quantizedV!) : FusedAdamW.Applies(Parameter, Gradient, _m!, _v!));

    /// <summary>The table row (device addresses); only for an update that <see cref="Applies"/>.</summary>
    public MultiTensorRow Row => EightBit
        ? new(TensorPointer.Of(Parameter), TensorPointer.Of(Gradient), TensorPointer.Of(_quantizedM!.Codes), TensorPointer.Of(_quantizedV!.Codes),
            TensorPointer.Of(_quantizedM.Absmax), TensorPointer.Of(_quantizedV.Absmax), Parameter.numel())
        : new(TensorPointer.Of(Parameter), TensorPointer.Of(Gradient), TensorPointer.Of(_m!), TensorPointer.Of(_v!), 0, 0, Parameter.numel());

    /// <summary>An update with float32 moments.</summary>
    public static MultiTensorAdamWUpdate Full(Tensor parameter, Tensor gradient, Tensor m, Tensor v) => new(parameter, gradient, m, v, null, null);

    /// <summary>An update with 8-bit block-wise moments (m on the signed map, v on the unsigned one).</summary>
    public static MultiTensorAdamWUpdate Quantized(Tensor parameter, Tensor gradient, BlockwiseQuantized m, BlockwiseQuantized v) =>
        new(parameter, gradient, null, null, m, v);

    private static string Suffix(ScalarType dtype) => FusedKernels.DtypeSuffix(dtype) ?? dtype.ToString();
}
