using static TorchSharp.torch;

namespace SharpTune.Kernels.CrossEntropy;

/// <summary>
/// The cross-entropy of logit rows against targets and its gradient with respect to the logits, with TorchSharp ops in
/// float32: loss = logsumexp(x) - x[target] per row, gradient = softmax(x) - onehot(target), rounded once to the logits'
/// dtype. New tensors, no autograd node.
/// </summary>
public static class CrossEntropyReference
{
    /// <summary>Per-row losses [n] (float32) and the gradient [n, vocab] in the logits' dtype.</summary>
    public static (Tensor Loss, Tensor Gradient) LossAndGradient(Tensor logits, Tensor targets)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var compute = logits.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var x = logits.to(compute);
        var lse = x.logsumexp(1);
        var column = targets.unsqueeze(1);
        var loss = (lse - x.gather(1, column).squeeze(1)).to(ScalarType.Float32);
        var gradient = (x - lse.unsqueeze(1)).exp_(); // x may be the caller's tensor (same dtype): not in place
        gradient.scatter_add_(1, column, full([targets.shape[0], 1], -1.0, compute, gradient.device));
        return (loss.MoveToOuterDisposeScope(), gradient.to(logits.dtype).MoveToOuterDisposeScope());
    }
}
