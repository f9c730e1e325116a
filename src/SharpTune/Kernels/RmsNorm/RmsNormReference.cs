using static TorchSharp.torch;

namespace SharpTune.Kernels.RmsNorm;

/// <summary>
/// RMSNorm as Hugging Face's Llama computes it, in plain TorchSharp: normalise in fp32, round to the input dtype, then
/// scale by the weight. The fused kernel is tested against this; on CPU this is what runs.
/// </summary>
public static class RmsNormReference
{
    public static Tensor Forward(Tensor input, Tensor weight, double epsilon)
    {
        using var scope = NewDisposeScope();
        var hidden = input.to(ScalarType.Float32);
        var variance = hidden.pow(2).mean([-1L], keepdim: true);
        var normalized = (hidden * rsqrt(variance + epsilon)).to(input.dtype);
        return (weight * normalized).MoveToOuterDisposeScope();
    }
}
