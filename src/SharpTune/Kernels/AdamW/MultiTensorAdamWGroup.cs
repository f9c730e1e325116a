namespace SharpTune.Kernels.AdamW;

/// <summary>
/// Tensors one <see cref="MultiTensorAdamWKernel"/> launch updates together: the same parameter dtype, gradient dtype
/// (kernel suffixes, <see cref="FusedKernels.DtypeSuffix"/>) and moment kind.
/// </summary>
public readonly record struct MultiTensorAdamWGroup(string ParameterSuffix, string GradientSuffix, bool EightBit)
{
    public string KernelName => MultiTensorAdamWKernel.KernelName(EightBit, ParameterSuffix, GradientSuffix);
}
