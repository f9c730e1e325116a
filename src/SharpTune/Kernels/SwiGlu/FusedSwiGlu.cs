using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.SwiGlu;

/// <summary>silu(gate) * up with a fused CUDA forward and backward where it applies, else <see cref="SwiGluReference"/>.</summary>
public static class FusedSwiGlu
{
    public static Tensor Apply(Tensor gate, Tensor up)
    {
        bool fused = FusedKernels.AppliesTo(gate) && gate.dtype == up.dtype && FusedKernels.DtypeSuffix(gate.dtype) is not null
            && gate.shape.SequenceEqual(up.shape);
        return fused ? CustomFunctionCall.Apply(() => SwiGluFunction.apply(gate, up)) : SwiGluReference.Forward(gate, up);
    }

    public sealed class SwiGluFunction : autograd.SingleTensorFunction<SwiGluFunction>
    {
        public override string Name => "SharpTuneSwiGlu";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            CustomFunctionCall.Register(ctx);
            var gate = ((Tensor)vars[0]).contiguous();
            var up = ((Tensor)vars[1]).contiguous();
            var output = empty_like(gate);
            long n = gate.numel();
            Module(gate).Launch($"swiglu_forward_{FusedKernels.DtypeSuffix(gate.dtype)}", Grid(n), (256, 1, 1), 0,
                TensorPointer.Of(gate), TensorPointer.Of(up), TensorPointer.Of(output), n);
            ctx.save_for_backward([gate, up]);
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            // Runs on libtorch's device thread, which has no dispose scope: own every handle (see BackwardResults).
            BackwardResults.BeginCall();
            // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
            if (gradOutput.IsInvalid)
            {
                return [null!, null!];
            }

            Tensor dGate, dUp;
            using (var scope = NewDisposeScope())
            {
                var saved = ctx.get_saved_variables();
                var (gate, up) = (saved[0], saved[1]);
                var dh = gradOutput.contiguous();
                dGate = empty_like(gate);
                dUp = empty_like(up);
                long n = gate.numel();
                Module(gate).Launch($"swiglu_backward_{FusedKernels.DtypeSuffix(gate.dtype)}", Grid(n), (256, 1, 1), 0,
                    TensorPointer.Of(dh), TensorPointer.Of(gate), TensorPointer.Of(up), TensorPointer.Of(dGate), TensorPointer.Of(dUp), n);
                dGate.MoveToOuterDisposeScope();
                dUp.MoveToOuterDisposeScope();
            }

            gradOutput.Dispose();
            return [BackwardResults.Keep(dGate)!, BackwardResults.Keep(dUp)!];
        }

        private static Cuda.CudaModule Module(Tensor like) => FusedKernels.Module(SwiGluKernel.Name, () => SwiGluKernel.Source, like.device_index);

        private static (uint, uint, uint) Grid(long n) => ((uint)Math.Clamp((n + 255) / 256, 1, 65535 * 8), 1, 1);
    }
}
