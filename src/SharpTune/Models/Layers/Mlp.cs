using SharpTune.Kernels;
using SharpTune.Kernels.SwiGlu;
using SharpTune.Lora;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// The SwiGLU feed-forward block (HF <c>mlp</c>): <c>down(silu(gate(x)) * up(x))</c>, projections replaceable. When all
/// three projections are fusable <see cref="LoraLinear"/>s and fused kernels apply (CUDA), forward is one
/// <see cref="LoraMlpFunction"/> node (<see cref="ForwardFusedLora"/>), which keeps one tokens x intermediate tensor less
/// for backward; otherwise <see cref="ForwardPerProjection"/>, each projection its own module call, which is also the
/// reference the fused MLP is tested against.
/// </summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    public static readonly string[] ProjectionNames = ["gate_proj", "up_proj", "down_proj"];

    [ComponentName(Name = "gate_proj")]
    private nn.Module<Tensor, Tensor> _gateProj;

    [ComponentName(Name = "up_proj")]
    private nn.Module<Tensor, Tensor> _upProj;

    [ComponentName(Name = "down_proj")]
    private nn.Module<Tensor, Tensor> _downProj;

    public Mlp(ModelConfig config, ScalarType dtype)
        : base(nameof(Mlp))
    {
        _gateProj = LinearWeights.Placeholder(config.HiddenSize, config.IntermediateSize, config.MlpBias, dtype);
        _upProj = LinearWeights.Placeholder(config.HiddenSize, config.IntermediateSize, config.MlpBias, dtype);
        _downProj = LinearWeights.Placeholder(config.IntermediateSize, config.HiddenSize, config.MlpBias, dtype);
        RegisterComponents();
    }

    public nn.Module<Tensor, Tensor> GateProj => _gateProj;

    public nn.Module<Tensor, Tensor> UpProj => _upProj;

    public nn.Module<Tensor, Tensor> DownProj => _downProj;

    public override Tensor forward(Tensor input) => Forward(input, outputValueNeeded: true);

    /// <summary>
    /// <see cref="forward"/>; with <paramref name="outputValueNeeded"/> false the fused LoRA path may skip computing the
    /// output's value (zeros), keeping only the graph: for a checkpointed layer's recompute (see
    /// <see cref="LoraMlpFunction.Apply"/>). The other paths compute it anyway.
    /// </summary>
    public Tensor Forward(Tensor input, bool outputValueNeeded) =>
        FusedKernels.AppliesTo(input) && CanFuseLora ? ForwardFusedLora(input, outputValueNeeded) : ForwardPerProjection(input);

    /// <summary>
    /// Each projection its own module call, then SwiGLU (<see cref="FusedSwiGlu"/> where fused kernels apply, else
    /// silu(gate) * up), then down.
    /// </summary>
    public Tensor ForwardPerProjection(Tensor input)
    {
        using var scope = NewDisposeScope();
        var gated = FusedKernels.AppliesTo(input)
            ? FusedSwiGlu.Apply(_gateProj.call(input), _upProj.call(input))
            : nn.functional.silu(_gateProj.call(input)) * _upProj.call(input);
        return _downProj.call(gated).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ForwardFusedLora"/> computes this block: all three projections are <see cref="LoraLinear"/>s that <see cref="LoraLinear.CanFuse"/>.</summary>
    public bool CanFuseLora => _gateProj is LoraLinear { CanFuse: true } && _upProj is LoraLinear { CanFuse: true } && _downProj is LoraLinear { CanFuse: true };

    /// <summary>The whole block as one <see cref="LoraMlpFunction"/> node (any device); requires <see cref="CanFuseLora"/>.</summary>
    public Tensor ForwardFusedLora(Tensor input, bool outputValueNeeded = true)
    {
        if (!CanFuseLora)
        {
            throw new InvalidOperationException($"Mlp: the fused LoRA MLP needs three fusable LoraLinear projections (gate {_gateProj.GetType().Name}, up {_upProj.GetType().Name}, down {_downProj.GetType().Name}; LoraLinear.CanFuse says why one is not)");
        }

        return LoraMlpFunction.Apply(input, ((LoraLinear)_gateProj).FusedWeights, ((LoraLinear)_upProj).FusedWeights, ((LoraLinear)_downProj).FusedWeights, outputValueNeeded);
    }

    public nn.Module<Tensor, Tensor> Projection(string hfName) => hfName switch
    {
        "gate_proj" => _gateProj,
        "up_proj" => _upProj,
        "down_proj" => _downProj,
        _ => throw new ArgumentException($"mlp has no projection '{hfName}' (it has {string.Join(", ", ProjectionNames)})", nameof(hfName)),
    };

    /// <summary>Replaces the projection named <paramref name="hfName"/> ("gate_proj", ...) with <c>wrap(current)</c>.</summary>
    public void ReplaceProjection(string hfName, Func<nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>> wrap)
    {
        var replacement = wrap(Projection(hfName));
        register_module(hfName, null!);
        switch (hfName)
        {
            case "gate_proj": _gateProj = replacement; break;
            case "up_proj": _upProj = replacement; break;
            default: _downProj = replacement; break;
        }

        register_module(hfName, replacement);
    }

    internal void LoadFrom(WeightSource source, string prefix)
    {
        foreach (string name in ProjectionNames)
        {
            LinearWeights.Load((Linear)Projection(name), source, $"{prefix}{name}.");
        }
    }
}
