using SharpTune.Kernels.MultiTensor;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Global L2 gradient-norm clipping (the rule of <c>torch.nn.utils.clip_grad_norm_</c>: scale by
/// <c>max / (norm + 1e-6)</c> when the norm exceeds <c>max</c>). Unlike TorchSharp's, it disposes the gradient handles
/// it reads, so it does not leak a managed handle per parameter per step.
/// </summary>
public static class GradientClipping
{
    /// <summary>Clips in place and returns the norm before clipping (NaN/inf when a gradient is not finite).</summary>
    public static double ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = Gradients(parameters);
        if (grads.Length == 0)
        {
            return 0;
        }

        double total = GlobalNorm(grads).item<float>();
        if (double.IsFinite(total) && maxNorm > 0 && total > maxNorm)
        {
            double factor = maxNorm / (total + 1e-6);
            foreach (var g in grads)
            {
                g.mul_(factor);
            }
        }

        return total;
    }

    /// <summary>
    /// The same clipping without reading the norm on the host: every gradient is multiplied by
    /// <c>min(1, max_norm / (norm + 1e-6))</c> computed on the device (a non-finite norm makes the gradients non-finite,
    /// which the caller finds when it reads the returned norm). Returns the norm before clipping, a float32 scalar on
    /// the gradients' device, owned by the caller.
    /// </summary>
    public static Tensor ClipByGlobalNormOnDevice(IEnumerable<Tensor> parameters, double maxNorm)
    {
        var all = parameters as IReadOnlyCollection<Tensor> ?? parameters.ToArray();
        var norm = ClipByGlobalNormOnDevice(all, maxNorm, out var pendingScale);
        if (pendingScale is not null)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            if (maxNorm > 0)
            {
                MultiplyInPlace(Gradients(all), pendingScale);
            }

            pendingScale.Dispose();
        }

        return norm;
    }

    /// <summary>
    /// <see cref="ClipByGlobalNormOnDevice(IEnumerable{Tensor}, double)"/> that may leave the multiplication to the
    /// optimizer: where the multi-tensor norm applies (<see cref="MultiTensorGradientNorm"/>: kernels on, contiguous CUDA
    /// gradients of one dtype) the gradients are left as they are and <paramref name="pendingScale"/> is the clip factor,
    /// a float32 scalar on their device owned by the caller (NaN when the norm is not finite), for
    /// <see cref="AdamWOptimizer.Step(double, Tensor?, bool)"/>; elsewhere the gradients are clipped in place as before
    /// and <paramref name="pendingScale"/> is null. Returns the norm before clipping, owned by the caller.
    /// </summary>
    public static Tensor ClipByGlobalNormOnDevice(IEnumerable<Tensor> parameters, double maxNorm, out Tensor? pendingScale)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = Gradients(parameters);
        pendingScale = null;
        if (grads.Length == 0)
        {
            return zeros([], ScalarType.Float32).MoveToOuterDisposeScope();
        }

        if (MultiTensorGradientNorm.TryCompute(grads, maxNorm) is { } normAndFactor)
        {
            pendingScale = normAndFactor[1].MoveToOuterDisposeScope();
            return normAndFactor[0].MoveToOuterDisposeScope();
        }

        var total = GlobalNorm(grads);
        if (maxNorm > 0)
        {
            MultiplyInPlace(grads, (maxNorm / (total + 1e-6)).clamp_max(1.0));
        }

        return total.MoveToOuterDisposeScope();
    }

    /// <summary>Multiplies each gradient in place by <paramref name="factor"/>, a scalar tensor on their device (cast to each gradient's dtype).</summary>
    internal static void MultiplyInPlace(IEnumerable<Tensor> gradients, Tensor factor)
    {
        foreach (var g in gradients)
        {
            g.mul_(factor.to(g.dtype));
        }
    }

    /// <summary>The parameters' gradients (new handles, in the caller's dispose scope); parameters without one are skipped.</summary>
    private static Tensor[] Gradients(IEnumerable<Tensor> parameters) =>
        parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToArray();

    /// <summary>The L2 norm over all of <paramref name="grads"/>, a float32 scalar on their device.</summary>
    private static Tensor GlobalNorm(Tensor[] grads) => stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToArray()).norm();
}
