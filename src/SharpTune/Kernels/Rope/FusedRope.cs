using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.Rope;

/// <summary>Rotary embedding with a fused CUDA kernel (forward and backward) where it applies, else <see cref="RopeReference"/>.</summary>
public static class FusedRope
{
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        bool fused = FusedKernels.AppliesTo(x) && x.dim() == 4 && x.shape[^1] % 2 == 0
            && cos.dtype == x.dtype && sin.dtype == x.dtype && FusedKernels.DtypeSuffix(x.dtype) is not null
            && cos.dim() == 3 && cos.shape[1] == x.shape[2] && cos.shape[2] == x.shape[3] && (cos.shape[0] == 1 || cos.shape[0] == x.shape[0])
            && sin.shape.SequenceEqual(cos.shape);
        return fused ? CustomFunctionCall.Apply(() => RopeFunction.apply(x, cos, sin)) : RopeReference.Forward(x, cos, sin);
    }

    public sealed class RopeFunction : autograd.SingleTensorFunction<RopeFunction>
    {
        public override string Name => "SharpTuneRope";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            CustomFunctionCall.Register(ctx);
            var x = ((Tensor)vars[0]).contiguous();
            var cos = ((Tensor)vars[1]).contiguous();
            var sin = ((Tensor)vars[2]).contiguous();
            ctx.save_for_backward([cos, sin]);
            return Rotate(x, cos, sin, backward: false);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            // Runs on libtorch's device thread, which has no dispose scope: own every handle (see BackwardResults).
            BackwardResults.BeginCall();
            // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
            if (gradOutput.IsInvalid)
            {
                return [null!, null!, null!];
            }

            Tensor dx;
            using (var scope = NewDisposeScope())
            {
                var saved = ctx.get_saved_variables();
                dx = Rotate(gradOutput.contiguous(), saved[0], saved[1], backward: true).MoveToOuterDisposeScope();
            }

            gradOutput.Dispose();
            return [BackwardResults.Keep(dx)!, null!, null!];
        }

        private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin, bool backward)
        {
            var y = empty_like(x);
            int heads = (int)x.shape[1], seq = (int)x.shape[2], dim = (int)x.shape[3];
            long pairs = x.numel() / 2;
            long cosBatchStride = cos.shape[0] == 1 ? 0 : (long)seq * dim;
            var module = FusedKernels.Module(RopeKernel.Name, () => RopeKernel.Source, x.device_index);
            module.Launch($"rope_{FusedKernels.DtypeSuffix(x.dtype)}", ((uint)Math.Clamp((pairs + 255) / 256, 1, 65535 * 8), 1, 1), (256, 1, 1), 0,
                TensorPointer.Of(x), TensorPointer.Of(cos), TensorPointer.Of(sin), TensorPointer.Of(y), pairs, heads, seq, dim, cosBatchStride, backward ? 1 : 0);
            return y;
        }
    }
}
