using SharpTune.Kernels.SwiGlu;
using SharpTune.Quantization;
using SharpTune.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Lora;

/// <summary>
/// A Llama MLP whose three projections carry LoRA adapters, <c>down(silu(gate(x)) * up(x))</c>, as one autograd node
/// with a hand-written backward (Unsloth's LoRA MLP). Each projection is computed as in
/// <see cref="LoraProjectionFunction"/>: g = x Wg^T (+ bias) + sg (x Ag^T) Bg^T, u likewise, h = silu(g) * u
/// (<see cref="FusedSwiGlu.Forward"/>), y = h Wd^T (+ bias) + sd (h Ad^T) Bd^T. Three LoraProjectionFunction nodes and
/// the SwiGLU node keep x, g, u and h [tokens, intermediate]; this node keeps x (no copy), g, u, the three rank-r
/// intermediates and the casts of A and B, and recomputes h in backward (one elementwise pass): one tensor of
/// tokens x intermediate less per layer whose activations are kept (112 MiB per layer at Llama-3-8B, 2 x 2048 tokens).
/// NF4 bases keep their <see cref="Nf4Tensor"/> and are dequantized again in backward, never kept in 16 bits.
/// Backward, with dy [tokens, hidden]: down as in LoraProjectionFunction (grad_Bd = sd dy^T (h Ad^T), dhd = sd dy Bd,
/// grad_Ad = dhd^T h, dh = dy Wd + dhd Ad); the SwiGLU backward (<see cref="FusedSwiGlu.Backward"/>: dg = dh u silu'(g),
/// written over dh, du = dh silu(g)); gate and up as in LoraProjectionFunction, grad_x = dg Wg + dhg Ag + du Wu + dhu Au.
/// h is freed before dh is made and, on CUDA, dh's memory becomes dg, so backward holds at most g, u and two other
/// tensors of tokens x intermediate (the chain of nodes holds five in its SwiGLU backward). Each gradient is computed only when
/// its input requires grad; the A and B gradients come back in their parameters' dtype, grad_x in x's. With grad
/// disabled, or neither x nor any adapter requiring grad, the same forward runs without a node and keeps nothing.
/// In a checkpointed layer that offloads (<see cref="ActivationOffload"/>), the forward sends g and u to host memory
/// and the recompute takes them back instead of running the gate and up GEMMs again.
/// Arguments of <c>apply</c>: x [..., hidden], Ag, Bg, Au, Bu, Ad, Bd, then the three <see cref="LoraProjectionWeights"/>
/// and whether the output's value is needed.
/// </summary>
public sealed class LoraMlpFunction : SingleTensorFunction<LoraMlpFunction>
{
    private const string StateKey = "lora_mlp";

    public override string Name => "SharpTuneLoraMlp";

    /// <summary>
    /// down(silu(gate(x)) * up(x)) over three LoRA projections (e.g. <see cref="LoraLinear.FusedWeights"/>). With
    /// <paramref name="outputValueNeeded"/> false and a node being recorded, the output's value is not computed (zeros
    /// of its shape): for a checkpointed layer's recompute, where only the graph to backpropagate through is wanted and
    /// the MLP's output feeds nothing but the layer's output. The down projection's GEMMs are skipped; the gradients
    /// are the same.
    /// </summary>
    public static Tensor Apply(Tensor input, LoraProjectionWeights gate, LoraProjectionWeights up, LoraProjectionWeights down, bool outputValueNeeded = true)
    {
        if (gate.InFeatures != input.shape[^1] || up.InFeatures != input.shape[^1])
        {
            throw new ArgumentException($"LoRA MLP: the input's last dimension is {input.shape[^1]}, gate expects {gate.InFeatures} and up {up.InFeatures}");
        }

        if (gate.OutFeatures != up.OutFeatures || down.InFeatures != gate.OutFeatures)
        {
            throw new ArgumentException($"LoRA MLP: gate gives {gate.OutFeatures} features, up {up.OutFeatures}, down expects {down.InFeatures}");
        }

        // The scope frees the wrappers of the tensors forward saved (libtorch holds its own references once apply
        // returns); CustomFunctionCall frees TorchSharp's output-sized placeholder.
        using var scope = NewDisposeScope();
        if (is_grad_enabled() && (input.requires_grad || gate.Trainable || up.Trainable || down.Trainable))
        {
            return CustomFunctionCall.Apply(() => apply(input, gate.LoraA, gate.LoraB, up.LoraA, up.LoraB, down.LoraA, down.LoraB, gate, up, down, outputValueNeeded))
                .MoveToOuterDisposeScope();
        }

        return Compute(input, gate, up, down, outputValueNeeded: true).Y.MoveToOuterDisposeScope();
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var (gate, up, down) = ((LoraProjectionWeights)vars[7], (LoraProjectionWeights)vars[8], (LoraProjectionWeights)vars[9]);
        using var scope = NewDisposeScope();
        var f = Compute(input, gate, up, down, (bool)vars[10]);

        // libtorch takes its references to the saved tensors after forward returns, so their wrappers must outlive this
        // scope: they go to Apply's, which ends after apply. A 16-bit base weight is saved (a reference, no copy);
        // an NF4 one stays in the state.
        CustomFunctionCall.Register(ctx);
        Tensor[] kept = [f.Gate, f.Up, f.HGate, f.HUp, f.HDown, f.AGate, f.BGate, f.AUp, f.BUp, f.ADown, f.BDown];
        ctx.save_for_backward([input, .. kept.Select(t => t.MoveToOuterDisposeScope()),
            (gate.BaseWeight as Tensor)!, (up.BaseWeight as Tensor)!, (down.BaseWeight as Tensor)!]);
        ctx.save_data(StateKey, new Saved(gate, up, down, input.requires_grad,
            Needs.Of(gate), Needs.Of(up), Needs.Of(down)));
        return f.Y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// y [..., hidden] (zeros when its value is not needed) and what backward keeps; h is made and freed here. All in the
    /// current dispose scope.
    /// </summary>
    private static Activations Compute(Tensor input, LoraProjectionWeights gate, LoraProjectionWeights up, LoraProjectionWeights down, bool outputValueNeeded)
    {
        Tensor g, hg, ag, bg, u, hu, au, bu;
        long[] projected = [.. input.shape[..^1], gate.OutFeatures];
        if (ActivationOffloadRegion.TryReceive(projected, projected) is [var gateOut, var upOut])
        {
            // A checkpointed layer's recompute whose forward sent g and u to host memory: the two GEMMs that made them
            // are skipped; backward still needs x A^T of each.
            var x2 = input.reshape(-1, gate.InFeatures);
            (hg, ag, bg) = LoraProjectionFunction.LowRank(x2, gate.LoraA, gate.LoraB);
            (hu, au, bu) = LoraProjectionFunction.LowRank(x2, up.LoraA, up.LoraB);
            (g, u) = (gateOut, upOut);
        }
        else
        {
            (g, hg, ag, bg) = LoraProjectionFunction.Project(input, gate);
            (u, hu, au, bu) = LoraProjectionFunction.Project(input, up);
            ActivationOffloadRegion.Send(g, u);
        }

        Tensor y, hd, ad, bd;
        using (var hScope = NewDisposeScope())
        {
            var h = FusedSwiGlu.Forward(g, u);
            if (outputValueNeeded)
            {
                (y, hd, ad, bd) = LoraProjectionFunction.Project(h, down);
            }
            else
            {
                // Backward needs only h Ad^T and the casts of Ad and Bd: the two GEMMs that make y are skipped.
                (hd, ad, bd) = LoraProjectionFunction.LowRank(h.reshape(-1, down.InFeatures), down.LoraA, down.LoraB);
                y = zeros([.. input.shape[..^1], down.OutFeatures], h.dtype, h.device);
            }

            hScope.MoveToOuter(y, hd, ad, bd);
        }

        return new Activations(y, g, u, hg, hu, hd, ag, bg, au, bu, ad, bd);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        // Runs on libtorch's device thread, which has no dispose scope (see BackwardResults).
        BackwardResults.BeginCall();
        var state = (Saved)ctx.get_data(StateKey);
        if (grad_output.IsInvalid)
        {
            return [null!, null!, null!, null!, null!, null!, null!, null!, null!, null!, null!]; // no gradient reached y
        }

        Tensor? gradInput = null, gradAGate = null, gradBGate = null, gradAUp = null, gradBUp = null, gradADown = null, gradBDown = null;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var input = saved[0];
            var (g, u, hg, hu, hd) = (saved[1], saved[2], saved[3], saved[4], saved[5]);
            var (ag, bg, au, bu, ad, bd) = (saved[6], saved[7], saved[8], saved[9], saved[10], saved[11]);
            object BaseOf(LoraProjectionWeights weights, Tensor saved16) => weights.BaseWeight as Nf4Tensor ?? (object)saved16;

            var dtype = input.dtype;
            long intermediate = g.shape[^1];
            var x2 = input.reshape(-1, input.shape[^1]);
            var dy = grad_output.to(dtype).reshape(-1, bd.shape[0]);
            bool needUpstream = state.NeedsInputGrad || state.Gate.Any || state.Up.Any;

            // down: the adapter gradients, with h recomputed for grad_Ad only and freed before dh exists.
            var dhd = state.Down.A || needUpstream ? LoraProjectionFunction.LowRankGradient(dy, bd, state.Down.Scaling) : null;
            using (var hScope = NewDisposeScope())
            {
                var h = state.Down.A ? FusedSwiGlu.Forward(g, u).view(-1, intermediate) : null;
                (gradADown, gradBDown) = LoraProjectionFunction.AdapterGradients(dy, dhd, h, hd, state.Down.Scaling, state.Down.ADtype, state.Down.BDtype);
                hScope.MoveToOuter([.. new[] { gradADown, gradBDown }.OfType<Tensor>()]);
            }

            if (needUpstream)
            {
                Tensor dg, du;
                using (var dhScope = NewDisposeScope())
                {
                    var dh = LoraProjectionFunction.InputGradient(dy, dhd!, ad, BaseOf(state.DownWeights, saved[14]), accumulateInto: null);
                    (dg, du) = FusedSwiGlu.Backward(dh, g.view(-1, intermediate), u.view(-1, intermediate), overwriteGradOutput: true);
                    dhScope.MoveToOuter(dg, du);
                }

                // gate, then up; each GEMM-sized gradient is freed as soon as its projection is done.
                (gradAGate, gradBGate) = Projection(dg, hg, bg, ag, state.Gate, BaseOf(state.GateWeights, saved[12]));
                (gradAUp, gradBUp) = Projection(du, hu, bu, au, state.Up, BaseOf(state.UpWeights, saved[13]));

                (Tensor?, Tensor?) Projection(Tensor dOut, Tensor hLow, Tensor b, Tensor a, Needs needs, object baseWeight)
                {
                    using var projectionScope = NewDisposeScope();
                    var dLow = needs.A || state.NeedsInputGrad ? LoraProjectionFunction.LowRankGradient(dOut, b, needs.Scaling) : null;
                    var (gradA, gradB) = LoraProjectionFunction.AdapterGradients(dOut, dLow, x2, hLow, needs.Scaling, needs.ADtype, needs.BDtype);
                    if (state.NeedsInputGrad)
                    {
                        var accumulated = LoraProjectionFunction.InputGradient(dOut, dLow!, a, baseWeight, gradInput);
                        gradInput ??= accumulated.MoveToOuterDisposeScope();
                    }

                    dOut.Dispose();
                    return (gradA?.MoveToOuterDisposeScope(), gradB?.MoveToOuterDisposeScope());
                }
            }

            gradInput = gradInput?.view(input.shape);
            foreach (var grad in new[] { gradInput, gradAGate, gradBGate, gradAUp, gradBUp, gradADown, gradBDown })
            {
                grad?.MoveToOuterDisposeScope();
            }
        }

        grad_output.Dispose();
        // One gradient per argument of apply: x, Ag, Bg, Au, Bu, Ad, Bd, and none for the three weight records and the flag.
        return
        [
            BackwardResults.Keep(gradInput)!, BackwardResults.Keep(gradAGate)!, BackwardResults.Keep(gradBGate)!, BackwardResults.Keep(gradAUp)!,
            BackwardResults.Keep(gradBUp)!, BackwardResults.Keep(gradADown)!, BackwardResults.Keep(gradBDown)!, null!, null!, null!, null!,
        ];
    }

    /// <summary>Everything forward makes that backward reads; y is the output.</summary>
    private sealed record Activations(Tensor Y, Tensor Gate, Tensor Up, Tensor HGate, Tensor HUp, Tensor HDown,
        Tensor AGate, Tensor BGate, Tensor AUp, Tensor BUp, Tensor ADown, Tensor BDown);

    /// <summary>Which adapter gradients one projection wants (dtype given) and its scaling.</summary>
    private sealed record Needs(ScalarType? ADtype, ScalarType? BDtype, double Scaling)
    {
        public bool A => ADtype is not null;

        public bool Any => ADtype is not null || BDtype is not null;

        public static Needs Of(LoraProjectionWeights weights) => new(
            weights.LoraA.requires_grad ? weights.LoraA.dtype : null,
            weights.LoraB.requires_grad ? weights.LoraB.dtype : null,
            weights.Scaling);
    }

    private sealed record Saved(LoraProjectionWeights GateWeights, LoraProjectionWeights UpWeights, LoraProjectionWeights DownWeights,
        bool NeedsInputGrad, Needs Gate, Needs Up, Needs Down);
}
