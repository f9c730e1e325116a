using static TorchSharp.torch;

namespace SharpTune.Kernels.CrossEntropy;

/// <summary>
/// Cross-entropy loss and its logit gradient (softmax - onehot) for rows of logits: <see cref="CrossEntropyKernel"/>
/// where it applies (kernels on, CUDA, f32/bf16/f16 logits, int64 targets), else <see cref="CrossEntropyReference"/>.
/// The kernel never materializes float32 logits: it reads the logits twice and writes the gradient once in their dtype.
/// </summary>
public static class FusedCrossEntropy
{
    /// <summary>
    /// Per-row losses [n] (float32) and <paramref name="gradientScale"/> times the gradient [n, vocab] in the logits'
    /// dtype (scaled before it is rounded); new tensors, no autograd node.
    /// </summary>
    public static (Tensor Loss, Tensor Gradient) LossAndGradient(Tensor logits, Tensor targets, double gradientScale = 1)
    {
        if (logits.dim() != 2 || targets.dim() != 1 || targets.shape[0] != logits.shape[0])
        {
            throw new ArgumentException($"logits [n, vocab] and targets [n] expected, got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", targets.shape)}]");
        }

        if (!KernelApplies(logits, targets))
        {
            return CrossEntropyReference.LossAndGradient(logits, targets, gradientScale);
        }

        var x = logits.contiguous();
        var t = targets.contiguous();
        long rows = x.shape[0];
        var loss = empty([rows], ScalarType.Float32, x.device);
        var gradient = empty_like(x);
        if (rows > 0)
        {
            string suffix = FusedKernels.DtypeSuffix(x.dtype)!;
            FusedKernels.Module(CrossEntropyKernel.Name, () => CrossEntropyKernel.Source, x.device_index)
                .Launch(CrossEntropyKernel.KernelName(suffix), ((uint)rows, 1, 1), (CrossEntropyKernel.Threads, 1, 1), 0,
                    TensorPointer.Of(x), TensorPointer.Of(t), TensorPointer.Of(loss), TensorPointer.Of(gradient), (float)gradientScale, x.shape[1]);
        }

        return (loss, gradient);
    }

    private static bool KernelApplies(Tensor logits, Tensor targets) =>
        FusedKernels.AppliesTo(logits) && FusedKernels.DtypeSuffix(logits.dtype) is not null
        && targets.dtype == ScalarType.Int64 && targets.device_type == logits.device_type && targets.device_index == logits.device_index
        && logits.shape[0] <= int.MaxValue;
}
