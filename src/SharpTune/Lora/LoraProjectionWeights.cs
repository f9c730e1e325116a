using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Lora;

/// <summary>
/// What a fused LoRA function needs of one projection <c>y = x W^T + bias + scaling * (x A^T) B^T</c>: the trainable
/// A [r, in] and B [out, r], the frozen base weight (a 16-bit tensor [out, in] or an <see cref="Nf4Tensor"/>), the
/// frozen bias [out] or null, and the scaling. <see cref="LoraLinear.FusedWeights"/> gives a layer's.
/// </summary>
public sealed record LoraProjectionWeights
{
    public LoraProjectionWeights(Tensor loraA, Tensor loraB, object baseWeight, Tensor? bias, double scaling)
    {
        if (baseWeight is not (Tensor or Nf4Tensor))
        {
            throw new ArgumentException($"LoRA projection: the base weight must be a Tensor or an Nf4Tensor, not {baseWeight.GetType().Name}", nameof(baseWeight));
        }

        if (baseWeight is Tensor { requires_grad: true } || bias is { requires_grad: true })
        {
            throw new ArgumentException("LoRA projection: the base weight and bias must be frozen (requires_grad false)");
        }

        LoraA = loraA;
        LoraB = loraB;
        BaseWeight = baseWeight;
        Bias = bias;
        Scaling = scaling;
    }

    public Tensor LoraA { get; }

    public Tensor LoraB { get; }

    /// <summary>A 16-bit <see cref="Tensor"/> [out, in] or an <see cref="Nf4Tensor"/>.</summary>
    public object BaseWeight { get; }

    public Tensor? Bias { get; }

    public double Scaling { get; }

    public long InFeatures => LoraA.shape[1];

    public long OutFeatures => LoraB.shape[0];

    /// <summary>Whether a gradient is wanted for A or B.</summary>
    public bool Trainable => LoraA.requires_grad || LoraB.requires_grad;
}
