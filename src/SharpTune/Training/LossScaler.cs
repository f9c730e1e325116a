using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Dynamic loss scaling for fp16 (PyTorch's GradScaler rule): the loss is multiplied by <see cref="Scale"/> before
/// backward; a step whose gradients overflow is skipped and the scale halved; after <see cref="GrowthInterval"/> good
/// steps in a row the scale doubles. Disabled (scale 1, nothing skipped) for bf16 and fp32.
/// </summary>
public sealed class LossScaler(bool enabled, double initialScale = 65536, int growthInterval = 2000)
{
    public bool Enabled { get; } = enabled;

    public double Scale { get; private set; } = enabled ? initialScale : 1;

    public int GrowthInterval { get; } = growthInterval;

    public int GoodSteps { get; private set; }

    /// <summary>
    /// Divides the gradients by the scale and says whether they are all finite. When enabled and they are not, the
    /// scale is halved and the caller skips the update.
    /// </summary>
    public bool UnscaleAndCheck(IEnumerable<Tensor> parameters)
    {
        if (!Enabled)
        {
            return true;
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool finite = true;
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is not null)
            {
                g.div_(Scale);
                finite &= g.isfinite().all().item<bool>();
            }
        }

        if (!finite)
        {
            Scale /= 2;
            GoodSteps = 0;
            return false;
        }

        if (++GoodSteps >= GrowthInterval)
        {
            Scale *= 2;
            GoodSteps = 0;
        }

        return true;
    }

    public void Restore(double scale, int goodSteps)
    {
        Scale = scale;
        GoodSteps = goodSteps;
    }
}
