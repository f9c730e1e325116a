using SharpTune.Diagnostics;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Training;

/// <summary>
/// Summed next-token cross-entropy of one chunk of hidden rows through the LM head, with a hand-written backward:
/// forward keeps only the hidden rows (no logits); backward recomputes the logits and writes their gradient directly,
/// softmax(logits) - onehot(target) scaled by the incoming gradient, in one float32 buffer, then sends it through the LM
/// head's own backward. Autograd through <c>to(float32)</c> and <c>cross_entropy</c> would keep the float32 logits,
/// the log-probabilities and their gradient at once: about twice the memory per chunk.
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
        ctx.save_data(StateKey, new Saved(hidden.detach(), targets, lmHead));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = lmHead(hidden).to(ScalarType.Float32);
        var targetLogits = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
        return (logits.logsumexp(1) - targetLogits).sum().MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        BackwardResults.BeginCall();
        var saved = (Saved)ctx.get_data(StateKey);
        // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
        if (grad_output.IsInvalid)
        {
            return [null!, null!, null!];
        }

        Tensor gradHidden;
        using (var scope = NewDisposeScope())
        {
            var x = saved.Hidden.detach().requires_grad_(true);
            using (enable_grad())
            {
                var logits = saved.LmHead(x);
                Tensor gradLogits;
                using (no_grad())
                {
                    // d(logsumexp - logit[target]) / d logits = softmax - onehot, times the incoming gradient.
                    var probabilities = logits.to(ScalarType.Float32).softmax(1);
                    probabilities.scatter_add_(1, saved.Targets.unsqueeze(1), full([saved.Targets.shape[0], 1], -1f, ScalarType.Float32, probabilities.device));
                    probabilities.mul_(grad_output.to(ScalarType.Float32));
                    gradLogits = probabilities.to(logits.dtype);
                }

                autograd.backward([logits], [gradLogits]);
            }

            gradHidden = x.grad!.MoveToOuterDisposeScope();
        }

        saved.Hidden.Dispose();
        grad_output.Dispose();
        StepTrace.Mark("loss chunk backward");
        return [BackwardResults.Keep(gradHidden)!, null!, null!];
    }

    private sealed record Saved(Tensor Hidden, Tensor Targets, Func<Tensor, Tensor> LmHead);
}
