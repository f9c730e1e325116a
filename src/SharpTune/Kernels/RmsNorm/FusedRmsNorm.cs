using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.RmsNorm;

/// <summary>
/// RMSNorm with a fused CUDA forward and backward where it applies (CUDA tensor, weight of the same dtype, fp32/bf16/fp16,
/// kernels enabled), else <see cref="RmsNormReference"/>.
/// </summary>
public static class FusedRmsNorm
{
    public static Tensor Apply(Tensor input, Tensor weight, double epsilon)
    {
        bool fused = FusedKernels.AppliesTo(input) && weight.dtype == input.dtype && FusedKernels.DtypeSuffix(input.dtype) is not null
            && input.shape[^1] == weight.shape[0] && weight.dim() == 1;
        return fused ? CustomFunctionCall.Apply(() => RmsNormFunction.apply(input, weight, epsilon)) : RmsNormReference.Forward(input, weight, epsilon);
    }

    /// <summary>The autograd node: kernels for y and dx; dw by a TorchSharp reduction, only when the weight is trained.</summary>
    public sealed class RmsNormFunction : autograd.SingleTensorFunction<RmsNormFunction>
    {
        private const uint Threads = 256;

        public override string Name => "SharpTuneRmsNorm";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            CustomFunctionCall.Register(ctx);
            var input = ((Tensor)vars[0]).contiguous();
            var weight = ((Tensor)vars[1]).contiguous();
            float epsilon = (float)(double)vars[2];
            int cols = (int)input.shape[^1];
            long rows = input.numel() / cols;
            var output = empty_like(input);
            var rstd = empty([rows], ScalarType.Float32, device: input.device);
            var module = FusedKernels.Module(RmsNormKernel.Name, () => RmsNormKernel.Source, input.device_index);
            module.Launch($"rmsnorm_forward_{FusedKernels.DtypeSuffix(input.dtype)}", ((uint)rows, 1, 1), (Threads, 1, 1), 0,
                TensorPointer.Of(input), TensorPointer.Of(weight), TensorPointer.Of(output), TensorPointer.Of(rstd), cols, epsilon);
            ctx.save_for_backward([input, weight, rstd]);
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            // Runs on libtorch's device thread, which has no dispose scope: own every handle (see BackwardResults), or
            // the saved inputs and the gradients stay alive until the garbage collector finalizes their wrappers.
            BackwardResults.BeginCall();
            // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
            if (gradOutput.IsInvalid)
            {
                return [null!, null!, null!];
            }

            Tensor dx;
            Tensor? dw = null;
            using (var scope = NewDisposeScope())
            {
                var saved = ctx.get_saved_variables();
                var (input, weight, rstd) = (saved[0], saved[1], saved[2]);
                var dy = gradOutput.contiguous();
                int cols = (int)input.shape[^1];
                long rows = input.numel() / cols;
                dx = empty_like(input);
                var module = FusedKernels.Module(RmsNormKernel.Name, () => RmsNormKernel.Source, input.device_index);
                module.Launch($"rmsnorm_backward_{FusedKernels.DtypeSuffix(input.dtype)}", ((uint)rows, 1, 1), (Threads, 1, 1), 0,
                    TensorPointer.Of(dy), TensorPointer.Of(input), TensorPointer.Of(weight), TensorPointer.Of(rstd), TensorPointer.Of(dx), cols);
                dx.MoveToOuterDisposeScope();
                if (weight.requires_grad)
                {
                    var normalized = (input.to(ScalarType.Float32).view(rows, cols) * rstd.unsqueeze(1)).to(input.dtype);
                    // (sum([0L]), not sum(0): a bare 0 converts to the ScalarType overload and sums everything.)
                    dw = (dy.view(rows, cols).to(ScalarType.Float32) * normalized.to(ScalarType.Float32)).sum([0L]).to(weight.dtype).MoveToOuterDisposeScope();
                }
            }

            gradOutput.Dispose();
            return [BackwardResults.Keep(dx)!, BackwardResults.Keep(dw)!, null!]; // one gradient per argument of apply: input, weight, epsilon
        }
    }
}
