using static TorchSharp.torch;

namespace SharpTune.Kernels.Rope;

/// <summary>
/// Rotary position embedding as Hugging Face applies it: x * cos + rotate_half(x) * sin, where rotate_half(x) =
/// cat(-x2, x1) over the two halves of the head dimension. x is [batch, heads, seq, head_dim]; cos and sin are
/// [batch or 1, seq, head_dim] in x's dtype.
/// </summary>
public static class RopeReference
{
    public static Tensor Forward(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x[TensorIndex.Ellipsis, TensorIndex.Slice(0, half)];
        var x2 = x[TensorIndex.Ellipsis, TensorIndex.Slice(half)];
        var rotated = cat([-x2, x1], -1);
        return (x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
