using static TorchSharp.torch;

namespace SharpTune.Kernels.SwiGlu;

/// <summary>The Llama MLP's gate, silu(gate) * up, as Hugging Face computes it (each op rounded to the input dtype).</summary>
public static class SwiGluReference
{
    public static Tensor Forward(Tensor gate, Tensor up) => nn.functional.silu(gate) * up;

    /// <summary>
    /// The gradients of <see cref="Forward"/> for the output gradient dh, computed in float32 and rounded once to the
    /// inputs' dtypes (as the kernel does): dgate = dh * up * silu'(gate), dup = dh * silu(gate), with
    /// silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). New tensors, no autograd node.
    /// </summary>
    public static (Tensor DGate, Tensor DUp) Backward(Tensor gradOutput, Tensor gate, Tensor up)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var compute = FusedKernels.ComputeDtype(gate.dtype);
        var g = gate.to(compute);
        var s = g.sigmoid();
        var dh = gradOutput.to(compute);
        var dUp = dh.mul(g).mul_(s);
        var dGate = dh.mul(up.to(compute)).mul_(s).mul_(s.neg().add_(1).mul_(g).add_(1));
        return (dGate.to(gate.dtype).MoveToOuterDisposeScope(), dUp.to(up.dtype).MoveToOuterDisposeScope());
    }
}
