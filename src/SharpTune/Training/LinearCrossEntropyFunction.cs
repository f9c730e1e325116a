using SharpTune.Diagnostics;
using SharpTune.Kernels;
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
/// The LM head's own parameters get no gradient here: callers with a trainable LM head must not use this function
/// (<see cref="SftTrainer"/> then passes <c>checkpointChunks: false</c> to <see cref="CausalLmLoss"/>).
/// Arguments of <c>apply</c>: hidden rows [n, h], targets [n] (int64, all labelled), the LM head.
/// </summary>
public sealed class LinearCrossEntropyFunction : SingleTensorFunction<LinearCrossEntropyFunction>
{
    private const string StateKey = "chunk";

    /// <summary>
    /// The logit gradient's scale in fp16 (a power of two, undone in float32 in backward): softmax - onehot is at most 1
    /// in size but most of a 128 k vocabulary's probabilities are below fp16's smallest normal (6.1e-5), which loss
    /// scaling used to lift when the gradient was computed in backward. 2^10 keeps probabilities down to ~6e-8 normal
    /// while the LM head's input gradient, at most 2 x max |W| for a unit loss, stays far below fp16's 65,504.
    /// </summary>
    internal const double Float16GradientScale = 1024;

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
        Tensor loss;
        using (enable_grad())
        {
            var logits = lmHead(x);
            double scale = logits.dtype == ScalarType.Float16 ? Float16GradientScale : 1;
            var (rowLosses, gradLogits) = FusedCrossEntropy.LossAndGradient(logits.detach(), targets, scale);
            loss = rowLosses.sum();
            var gradHidden = grad([logits], [x], [gradLogits])[0];
            // A record, not the tensor itself: TorchSharp prints a warning for every tensor handed to save_data.
            ctx.save_data(StateKey, new Saved(gradHidden.detach().MoveToOuterDisposeScope(), scale));
        }

        return loss.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        BackwardResults.BeginCall();
        var (unitGradient, scale) = (Saved)ctx.get_data(StateKey);
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
            var compute = FusedKernels.ComputeDtype(unitGradient.dtype);
            var factor = scale == 1 ? grad_output.to(compute) : grad_output.to(compute) / scale;
            gradHidden = unitGradient.to(compute).mul_(factor).to(unitGradient.dtype).MoveToOuterDisposeScope();
        }

        unitGradient.Dispose();
        grad_output.Dispose();
        StepTrace.Mark("loss chunk backward");
        return [BackwardResults.Keep(gradHidden)!, null!, null!];
    }

    /// <summary>The chunk's hidden-row gradient for a unit loss, times <paramref name="Scale"/>.</summary>
    private sealed record Saved(Tensor UnitGradient, double Scale);
}
