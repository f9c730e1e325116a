using SharpTune.Diagnostics;
using SharpTune.Kernels.CrossEntropy;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Training;

/// <summary>
/// Summed next-token cross-entropy of one chunk of hidden rows through the LM head, with the gradient computed in the
/// forward: the chunk's logits are computed once, <see cref="FusedCrossEntropy"/> gives each row's loss and
/// softmax - onehot(target) in the logits' dtype (one kernel on CUDA, no float32 logits), and that gradient goes
/// through the LM head's backward straight away. Forward keeps only the hidden rows' gradient for a unit loss; backward
/// scales it by the incoming gradient (in float32). Compared with recomputing the logits in backward, the LM head runs
/// two GEMMs instead of three and no logits outlive the forward. The loss is terminal (its gradient is a scalar), so the
/// gradient for a unit loss, scaled, is the gradient.
/// The LM head's own parameters get no gradient here: SharpTune never trains the LM head.
/// Arguments of <c>apply</c>: hidden rows [n, h], targets [n] (int64, all labelled), the LM head.
/// </summary>
public sealed class LinearCrossEntropyFunction : SingleTensorFunction<LinearCrossEntropyFunction>
{
    private const string StateKey = "chunk";

    public override string Name => "SharpTuneLinearCrossEntropy";

    /// <summary>The summed loss (a float32 scalar) of <paramref name="hidden"/> rows against <paramref name="targets"/>.</summary>
    public static Tensor Apply(Tensor hidden, Tensor targets, Func<Tensor, Tensor> lmHead) => CustomFunctionCall.Apply(() => apply(hidden, targets, lmHead));

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var targets = (Tensor)vars[1];
        var lmHead = (Func<Tensor, Tensor>)vars[2];
        CustomFunctionCall.Register(ctx);
        using var scope = NewDisposeScope();
        var x = hidden.detach().requires_grad_(true);
        Tensor loss, gradHidden;
        using (enable_grad())
        {
            var logits = lmHead(x);
            var (rowLosses, gradLogits) = FusedCrossEntropy.LossAndGradient(logits.detach(), targets);
            loss = rowLosses.sum();
            gradHidden = grad([logits], [x], [gradLogits])[0];
        }

        // A record, not the tensor itself: TorchSharp prints a warning for every tensor handed to save_data.
        ctx.save_data(StateKey, new Saved(gradHidden.detach().MoveToOuterDisposeScope()));
        return loss.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        BackwardResults.BeginCall();
        var unitGradient = ((Saved)ctx.get_data(StateKey)).UnitGradient;
        // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
        if (grad_output.IsInvalid)
        {
            unitGradient.Dispose();
            return [null!, null!, null!];
        }

        Tensor gradHidden;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var compute = unitGradient.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            gradHidden = unitGradient.to(compute).mul_(grad_output.to(compute)).to(unitGradient.dtype).MoveToOuterDisposeScope();
        }

        unitGradient.Dispose();
        grad_output.Dispose();
        StepTrace.Mark("loss chunk backward");
        return [BackwardResults.Keep(gradHidden)!, null!, null!];
    }

    /// <summary>The chunk's hidden-row gradient for a unit loss.</summary>
    private sealed record Saved(Tensor UnitGradient);
}
