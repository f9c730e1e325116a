using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.AdamW;

/// <summary>
/// One AdamW update of one parameter in TorchSharp ops (PyTorch's <c>torch.optim.AdamW</c>): decoupled decay
/// <c>p *= 1 - lr * wd</c>, <c>m = b1 m + (1 - b1) g</c>, <c>v = b2 v + (1 - b2) g^2</c>,
/// <c>p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)</c>. The moments are float32 and updated in place; a 16-bit
/// parameter is updated through a float32 copy and written back. Any device; the oracle for <see cref="AdamWKernel"/>.
/// </summary>
public static class AdamWReference
{
    public static void Update(Tensor parameter, Tensor gradient, Tensor m, Tensor v, AdamWStep step)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var g = gradient.to(ScalarType.Float32);
        m.mul_(step.Beta1).add_(g, 1 - step.Beta1);
        v.mul_(step.Beta2).addcmul_(g, g, 1 - step.Beta2);
        var denominator = (v.sqrt() / Math.Sqrt(step.Correction2)).add_(step.Epsilon);
        var update = m / denominator * (step.LearningRate / step.Correction1);
        if (parameter.dtype == ScalarType.Float32)
        {
            parameter.mul_(1 - step.LearningRate * step.WeightDecay).sub_(update);
        }
        else
        {
            var master = parameter.to(ScalarType.Float32).mul_(1 - step.LearningRate * step.WeightDecay).sub_(update);
            parameter.copy_(master);
        }
    }
}
