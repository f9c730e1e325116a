using static TorchSharp.torch;

namespace SharpTune.Kernels.CrossEntropy;

/// <summary>
/// The cross-entropy of logit rows against targets and its gradient with respect to the logits, with TorchSharp ops in
/// float32: loss = logsumexp(x) - x[target] per row, gradient = scale * (softmax(x) - onehot(target)), rounded once to the
/// logits' dtype. New tensors, no autograd node.
/// </summary>
public static class CrossEntropyReference
{
    /// <summary>Per-row losses [n] (float32) and <paramref name="gradientScale"/> times the gradient [n, vocab] in the logits' dtype.</summary>
    public static (Tensor Loss, Tensor Gradient) LossAndGradient(Tensor logits, Tensor targets, double gradientScale = 1)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var compute = FusedKernels.ComputeDtype(logits.dtype);
        var x = logits.to(compute);
        var lse = x.logsumexp(1);
        var column = targets.unsqueeze(1);
        var loss = (lse - x.gather(1, column).squeeze(1)).to(ScalarType.Float32);
        // In place only when to() made a copy: otherwise x is the caller's tensor.
        var shifted = x.dtype == logits.dtype ? x - lse.unsqueeze(1) : x.sub_(lse.unsqueeze(1));
        var gradient = shifted.exp_();
        gradient.scatter_add_(1, column, full([targets.shape[0], 1], -1.0, compute, gradient.device));
        if (gradientScale != 1)
        {
            gradient.mul_(gradientScale);
        }

        return (loss.MoveToOuterDisposeScope(), gradient.to(logits.dtype).MoveToOuterDisposeScope());
    }
}
