namespace SharpTune.Kernels.AdamW;

/// <summary>
/// The scalars of one AdamW update: learning rate, betas, epsilon, decoupled weight decay and the bias corrections
/// <c>1 - beta^t</c> of step t. <see cref="AdamWReference"/> hands them to TorchSharp as doubles; <see cref="AdamWKernel"/>
/// takes them as the float32 values those ops compute with (<see cref="FusedAdamW"/> derives them).
/// </summary>
public readonly record struct AdamWStep(double LearningRate, double Beta1, double Beta2, double Epsilon, double WeightDecay,
    double Correction1, double Correction2)
{
    /// <summary>The step for update number <paramref name="step"/> (1-based).</summary>
    public static AdamWStep At(long step, double learningRate, double beta1, double beta2, double epsilon, double weightDecay) =>
        new(learningRate, beta1, beta2, epsilon, weightDecay, 1 - Math.Pow(beta1, step), 1 - Math.Pow(beta2, step));
}
