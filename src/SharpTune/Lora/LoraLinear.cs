using SharpTune.Kernels;
using SharpTune.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Lora;

/// <summary>
/// A projection with a low-rank update: <c>y = base(x) + scaling * B(A(dropout(x)))</c>. The base (a plain
/// <see cref="Linear"/> or an NF4 layer) is frozen; A [r, in] and B [out, r] are trainable float32 master weights,
/// cast to the input's dtype in forward. PEFT's initialization: A Kaiming-uniform with a = sqrt(5) (uniform in
/// ±1/sqrt(in)), B zero, so a fresh adapter leaves the model unchanged. Submodule names follow PEFT
/// (<c>lora_A</c>, <c>lora_B</c>), so <c>named_parameters()</c> gives <c>lora_A.weight</c>, <c>lora_B.weight</c>.
/// Two forward paths, as Unsloth keeps them: <see cref="ForwardFused"/> (one autograd node with a hand-written
/// backward, <see cref="LoraProjectionFunction"/>), taken on CUDA unless SHARPTUNE_KERNELS=off, and the plain
/// autograd <see cref="ForwardReference"/> it is tested against, taken on CPU and whenever dropout is active.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names are PEFT's state-dict keys
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
#pragma warning restore IDE1006

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, long inFeatures, long outFeatures, int rank, double scaling, double dropout, Generator? generator,
        ScalarType parameterDtype = ScalarType.Float32)
        : base("LoraLinear")
    {
        base_layer = baseLayer;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Rank = rank;
        Scaling = scaling;
        DropoutProbability = dropout;
        lora_A = nn.Linear(inFeatures, rank, hasBias: false, dtype: parameterDtype);
        lora_B = nn.Linear(rank, outFeatures, hasBias: false, dtype: parameterDtype);
        using (no_grad())
        using (NewDisposeScope())
        {
            double bound = 1.0 / Math.Sqrt(inFeatures);
            lora_A.weight!.uniform_(-bound, bound, generator);
            lora_B.weight!.zero_();
        }

        foreach (var parameter in baseLayer.parameters())
        {
            parameter.requires_grad = false;
        }

        RegisterComponents();
    }

    public nn.Module<Tensor, Tensor> BaseLayer => base_layer;

    public Parameter LoraA => lora_A.weight!;

    public Parameter LoraB => lora_B.weight!;

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public int Rank { get; }

    public double Scaling { get; }

    public double DropoutProbability { get; }

    /// <summary>
    /// The fused projection (<see cref="LoraProjectionFunction"/>) on CUDA when fused kernels are enabled
    /// (<see cref="FusedKernels.AppliesTo"/>) and <see cref="CanFuse"/>; else <see cref="ForwardReference"/>, which is
    /// also what CPU runs.
    /// </summary>
    public override Tensor forward(Tensor input) =>
        FusedKernels.AppliesTo(input) && CanFuse ? ForwardFused(input) : ForwardReference(input);

    /// <summary>
    /// Whether <see cref="ForwardFused"/> computes this layer: the base is a frozen <see cref="Linear"/> or an
    /// <see cref="Nf4Linear"/>, and dropout is off (probability 0, or evaluation mode).
    /// </summary>
    public bool CanFuse =>
        (DropoutProbability == 0 || !training)
        && base_layer switch
        {
            Linear linear => !linear.weight!.requires_grad && linear.bias?.requires_grad != true,
            Nf4Linear => true,
            _ => false,
        };

    /// <summary>The plain autograd path: <c>base(x) + scaling * B(A(dropout(x)))</c>, one TorchSharp op at a time.</summary>
    public Tensor ForwardReference(Tensor input)
    {
        using var scope = NewDisposeScope();
        var result = base_layer.forward(input);
        var x = DropoutProbability > 0 ? nn.functional.dropout(input, DropoutProbability, training) : input;
        var a = LoraA.to(input.dtype);
        var b = LoraB.to(input.dtype);
        var update = nn.functional.linear(nn.functional.linear(x, a), b);
        return result.add(update, Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>The same result through one <see cref="LoraProjectionFunction"/> node (any device); requires <see cref="CanFuse"/>.</summary>
    public Tensor ForwardFused(Tensor input) => LoraProjectionFunction.Apply(input, FusedWeights);

    /// <summary>
    /// This layer's A, B, frozen base weight (16-bit or NF4), bias and scaling, as the fused LoRA functions take them;
    /// requires <see cref="CanFuse"/>.
    /// </summary>
    public LoraProjectionWeights FusedWeights
    {
        get
        {
            if (!CanFuse)
            {
                throw new InvalidOperationException($"LoraLinear: the fused projection needs a frozen Linear or Nf4Linear base and no active dropout (base {base_layer.GetType().Name}, dropout {DropoutProbability}, training {training})");
            }

            return base_layer switch
            {
                Nf4Linear nf4 => new LoraProjectionWeights(LoraA, LoraB, nf4.Weight, nf4.Bias, Scaling),
                Linear linear => new LoraProjectionWeights(LoraA, LoraB, linear.weight!, linear.bias, Scaling),
                _ => throw new InvalidOperationException("unreachable: CanFuse checked the base"),
            };
        }
    }

    /// <summary><c>scaling * B @ A</c> in float32 (the merged weight's delta), a fresh tensor.</summary>
    public Tensor Delta()
    {
        using var noGrad = no_grad();
        return (matmul(LoraB, LoraA) * Scaling).detach();
    }
}
