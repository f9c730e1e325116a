using SharpTune.Quantization;
using SharpTune.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Lora;

/// <summary>
/// A LoRA projection <c>y = x W^T + bias + scaling * (x A^T) B^T</c> as one autograd node with a hand-written
/// backward (what Unsloth does for its LoRA MLP and attention projections). Forward works on x as a 2-D matrix
/// [tokens, in]: h = x A^T [tokens, r]; the update <c>scaling * h B^T</c> (plus the bias) is written into y first, and
/// the frozen base's GEMM accumulates onto it (<c>y.addmm_(x, W^T)</c>, beta 1), so y is read inside the compute-bound
/// GEMM and there is no memory-bound pass to add the update. Only x (no copy), h and the casts of A and B (small) are kept for backward; an NF4 base
/// keeps its <see cref="Nf4Tensor"/> and is dequantized again in backward, never kept in 16 bits.
/// Backward, with dy [tokens, out] and dh = scaling * dy B [tokens, r]:
/// grad_x = dy W + dh A, grad_B = scaling * dy^T h, grad_A = dh^T x. Each gradient is computed only when its input
/// requires grad; grad_A and grad_B come back in their parameters' dtype (float32 master weights), grad_x in x's.
/// The base weight and bias are frozen: they get no gradient. When no gradient is wanted (grad disabled, or neither
/// x, A nor B requires it) the same forward runs without a node and keeps nothing.
/// Arguments of <c>apply</c>: x [..., in], A [r, in], B [out, r], the base weight (a 16-bit tensor [out, in] or an
/// <see cref="Nf4Tensor"/>), the bias [out] (or null), the scaling (a double).
/// </summary>
public sealed class LoraProjectionFunction : SingleTensorFunction<LoraProjectionFunction>
{
    private const string StateKey = "lora";

    public override string Name => "SharpTuneLoraProjection";

    /// <summary>The projection over a frozen 16-bit base weight [out, in] (and optional frozen bias).</summary>
    public static Tensor Apply(Tensor input, Tensor loraA, Tensor loraB, Tensor baseWeight, Tensor? bias, double scaling) =>
        Run(input, loraA, loraB, baseWeight, bias, scaling);

    /// <summary>The projection over a frozen NF4 base weight (and optional frozen bias).</summary>
    public static Tensor Apply(Tensor input, Tensor loraA, Tensor loraB, Nf4Tensor baseWeight, Tensor? bias, double scaling) =>
        Run(input, loraA, loraB, baseWeight, bias, scaling);

    /// <summary>The projection of <paramref name="weights"/> (e.g. <see cref="LoraLinear.FusedWeights"/>).</summary>
    public static Tensor Apply(Tensor input, LoraProjectionWeights weights) =>
        Run(input, weights.LoraA, weights.LoraB, weights.BaseWeight, weights.Bias, weights.Scaling);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var loraA = (Tensor)vars[1];
        var loraB = (Tensor)vars[2];
        double scaling = (double)vars[5];
        using var scope = NewDisposeScope();
        var (y, h, a, b) = Project(input, loraA, loraB, vars[3], vars[4] as Tensor, scaling);

        // libtorch takes its references to the saved tensors after forward returns, so their wrappers must outlive this
        // scope: they go to Run's, which ends after apply.
        CustomFunctionCall.Register(ctx);
        ctx.save_for_backward([input, h.MoveToOuterDisposeScope(), a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope(), (vars[3] as Tensor)!]);
        ctx.save_data(StateKey, new Saved(vars[3] as Nf4Tensor, scaling, input.requires_grad, loraA.requires_grad, loraB.requires_grad, loraA.dtype, loraB.dtype));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Through the autograd node when a gradient is wanted; else the same forward without one (nothing saved).</summary>
    private static Tensor Run(Tensor input, Tensor loraA, Tensor loraB, object baseWeight, Tensor? bias, double scaling)
    {
        if (baseWeight is Tensor { requires_grad: true } || bias is { requires_grad: true })
        {
            throw new ArgumentException("LoRA projection: the base weight and bias must be frozen (requires_grad false)");
        }

        // The scope frees the wrappers of the tensors forward saved (libtorch holds its own references once apply
        // returns); CustomFunctionCall frees TorchSharp's output-sized placeholder.
        using var scope = NewDisposeScope();
        if (is_grad_enabled() && (input.requires_grad || loraA.requires_grad || loraB.requires_grad))
        {
            return CustomFunctionCall.Apply(() => apply(input, loraA, loraB, baseWeight, bias!, scaling)).MoveToOuterDisposeScope();
        }

        return Project(input, loraA, loraB, baseWeight, bias, scaling).Y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// y [..., out] and what backward needs: h = x a^T [tokens, r] and A, B cast to x's dtype (a, b). All in the
    /// current dispose scope.
    /// </summary>
    internal static (Tensor Y, Tensor H, Tensor A, Tensor B) Project(Tensor input, LoraProjectionWeights weights) =>
        Project(input, weights.LoraA, weights.LoraB, weights.BaseWeight, weights.Bias, weights.Scaling);

    private static (Tensor Y, Tensor H, Tensor A, Tensor B) Project(Tensor input, Tensor loraA, Tensor loraB, object baseWeight, Tensor? bias, double scaling)
    {
        var dtype = input.dtype;
        long inFeatures = loraA.shape[1];
        long outFeatures = loraB.shape[0];
        if (input.shape[^1] != inFeatures)
        {
            throw new ArgumentException($"LoRA projection: the input's last dimension is {input.shape[^1]}, A expects {inFeatures}");
        }

        var x2 = input.reshape(-1, inFeatures);
        var (h, a, b) = LowRank(x2, loraA, loraB);

        // The low-rank update is written first (a GEMM with K = r that only writes y), then the base GEMM accumulates
        // onto it (beta 1): y is read once inside the compute-bound GEMM instead of in a memory-bound pass of its own.
        // y is allocated in the input's shape, so it is not a view (a caller may modify it in place).
        var y = empty([.. input.shape[..^1], outFeatures], dtype, input.device);
        var y2 = y.view(-1, outFeatures);
        if (bias is null)
        {
            y2.addmm_(h, b.t(), beta: 0, alpha: (float)scaling);
        }
        else
        {
            y2.copy_(bias.to(dtype).expand(y2.shape));
            y2.addmm_(h, b.t(), beta: 1, alpha: (float)scaling);
        }

        using (var w16 = baseWeight is Nf4Tensor nf4 ? DequantizedWeightCache.ForForward(nf4, dtype) : ((Tensor)baseWeight).to(dtype))
        {
            y2.addmm_(x2, w16.t());
        }

        return (y, h, a, b);
    }

    /// <summary>
    /// What backward needs of the adapter for the input rows <paramref name="x2"/> [tokens, in]: h = x2 A^T [tokens, r]
    /// and A, B cast to x2's dtype. In the current dispose scope.
    /// </summary>
    internal static (Tensor H, Tensor A, Tensor B) LowRank(Tensor x2, Tensor loraA, Tensor loraB)
    {
        var a = loraA.to(x2.dtype);
        var b = loraB.to(x2.dtype);
        return (mm(x2, a.t()), a, b);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        // Runs on libtorch's device thread, which has no dispose scope (see BackwardResults).
        BackwardResults.BeginCall();
        var state = (Saved)ctx.get_data(StateKey);
        if (grad_output.IsInvalid)
        {
            return [null!, null!, null!, null!, null!, null!]; // no gradient reached y (grads are not materialized)
        }

        Tensor? gradInput = null, gradA = null, gradB = null;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var (input, h, a, b) = (saved[0], saved[1], saved[2], saved[3]);
            var x2 = input.reshape(-1, a.shape[1]);
            var dy = grad_output.to(input.dtype).reshape(-1, b.shape[0]);
            var dh = state.NeedsInputGrad || state.NeedsAGrad ? LowRankGradient(dy, b, state.Scaling) : null;
            (gradA, gradB) = AdapterGradients(dy, dh, x2, h, state.Scaling, state.NeedsAGrad ? state.ADtype : null, state.NeedsBGrad ? state.BDtype : null);
            gradA?.MoveToOuterDisposeScope();
            gradB?.MoveToOuterDisposeScope();
            if (state.NeedsInputGrad)
            {
                gradInput = InputGradient(dy, dh!, a, state.Nf4 ?? (object)saved[4], accumulateInto: null).view(input.shape).MoveToOuterDisposeScope();
            }
        }

        grad_output.Dispose();
        // One gradient per argument of apply: x, A, B, base weight, bias, scaling.
        return [BackwardResults.Keep(gradInput)!, BackwardResults.Keep(gradA)!, BackwardResults.Keep(gradB)!, null!, null!, null!];
    }

    /// <summary>dh = scaling * dy B [tokens, r], the gradient of the low-rank intermediate x A^T.</summary>
    internal static Tensor LowRankGradient(Tensor dy, Tensor b, double scaling) => mm(dy, b).mul_(scaling);

    /// <summary>
    /// grad_A = dh^T x in <paramref name="aDtype"/> and grad_B = scaling * dy^T h in <paramref name="bDtype"/>, each only
    /// when its dtype is given (x and dh are not read otherwise). In the current dispose scope.
    /// </summary>
    internal static (Tensor? GradA, Tensor? GradB) AdapterGradients(Tensor dy, Tensor? dh, Tensor? x, Tensor h, double scaling, ScalarType? aDtype, ScalarType? bDtype) =>
        (aDtype is { } ad ? mm(dh!.t(), x!).to(ad) : null, bDtype is { } bd ? mm(dy.t(), h).to(bd).mul_(scaling) : null);

    /// <summary>
    /// grad_x = dy W + dh A [tokens, in], added to <paramref name="accumulateInto"/> when given (and returned), else a
    /// new tensor. The base weight (a 16-bit tensor or an <see cref="Nf4Tensor"/>) is cast or dequantized to dy's dtype
    /// for the one GEMM and freed (inside a checkpointed region's backward, the recompute's dequantization is reused:
    /// <see cref="DequantizedWeightCache"/>).
    /// </summary>
    internal static Tensor InputGradient(Tensor dy, Tensor dh, Tensor a, object baseWeight, Tensor? accumulateInto)
    {
        // The low-rank term first (K = r), then the base GEMM accumulates onto it: as in forward, the accumulation is
        // read inside the compute-bound GEMM rather than in a memory-bound pass.
        var gradInput = accumulateInto is null ? mm(dh, a) : accumulateInto.addmm_(dh, a);
        using (var w16 = baseWeight is Nf4Tensor nf4 ? DequantizedWeightCache.ForBackward(nf4, dy.dtype) : ((Tensor)baseWeight).to(dy.dtype))
        {
            return gradInput.addmm_(dy, w16);
        }
    }

    private sealed record Saved(Nf4Tensor? Nf4, double Scaling, bool NeedsInputGrad, bool NeedsAGrad, bool NeedsBGrad, ScalarType ADtype, ScalarType BDtype);
}
