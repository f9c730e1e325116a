using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Kernels.SwiGlu;

/// <summary>
/// silu(gate) * up with a fused CUDA forward and backward where it applies, else <see cref="SwiGluReference"/>.
/// <see cref="Apply"/> is the autograd op; <see cref="Forward"/> and <see cref="Backward"/> are the same kernels without
/// a node, for functions with their own backward (the LoRA MLP recomputes h and runs the SwiGLU backward itself).
/// </summary>
public static class FusedSwiGlu
{
    public static Tensor Apply(Tensor gate, Tensor up) =>
        KernelApplies(gate, up) ? CustomFunctionCall.Apply(() => SwiGluFunction.apply(gate, up)) : SwiGluReference.Forward(gate, up);

    /// <summary>h = silu(gate) * up, a new tensor, no autograd node: the kernel where it applies, else the reference.</summary>
    public static Tensor Forward(Tensor gate, Tensor up)
    {
        if (!KernelApplies(gate, up))
        {
            using var noGrad = no_grad();
            return SwiGluReference.Forward(gate, up);
        }

        var g = gate.contiguous();
        var u = up.contiguous();
        var h = empty_like(g);
        LaunchForward(g, u, h);
        return h;
    }

    /// <summary>
    /// (dgate, dup) for the output gradient <paramref name="gradOutput"/>: the kernel where it applies, else
    /// <see cref="SwiGluReference.Backward"/>. With <paramref name="overwriteGradOutput"/> the kernel writes dgate into
    /// gradOutput's memory (each element is read before it is written) and returns it, saving one buffer; the caller
    /// must not use gradOutput's values afterwards.
    /// </summary>
    public static (Tensor DGate, Tensor DUp) Backward(Tensor gradOutput, Tensor gate, Tensor up, bool overwriteGradOutput = false)
    {
        if (!KernelApplies(gate, up) || gradOutput.dtype != gate.dtype || !gradOutput.shape.SequenceEqual(gate.shape))
        {
            return SwiGluReference.Backward(gradOutput, gate, up);
        }

        var g = gate.contiguous();
        var u = up.contiguous();
        var dh = gradOutput.contiguous();
        var dGate = overwriteGradOutput ? dh : empty_like(g); // dh is gradOutput's memory, or a contiguous copy of it
        var dUp = empty_like(u);
        LaunchBackward(dh, g, u, dGate, dUp);
        return (dGate, dUp);
    }

    private static bool KernelApplies(Tensor gate, Tensor up) =>
        FusedKernels.AppliesTo(gate) && gate.dtype == up.dtype && FusedKernels.DtypeSuffix(gate.dtype) is not null
        && gate.shape.SequenceEqual(up.shape);

    private static void LaunchForward(Tensor gate, Tensor up, Tensor output)
    {
        long n = gate.numel();
        Module(gate).Launch($"swiglu_forward_{FusedKernels.DtypeSuffix(gate.dtype)}", Grid(n), (256, 1, 1), 0,
            TensorPointer.Of(gate), TensorPointer.Of(up), TensorPointer.Of(output), n);
    }

    private static void LaunchBackward(Tensor dh, Tensor gate, Tensor up, Tensor dGate, Tensor dUp)
    {
        long n = gate.numel();
        Module(gate).Launch($"swiglu_backward_{FusedKernels.DtypeSuffix(gate.dtype)}", Grid(n), (256, 1, 1), 0,
            TensorPointer.Of(dh), TensorPointer.Of(gate), TensorPointer.Of(up), TensorPointer.Of(dGate), TensorPointer.Of(dUp), n);
    }

    private static Cuda.CudaModule Module(Tensor like) => FusedKernels.Module(SwiGluKernel.Name, () => SwiGluKernel.Source, like.device_index);

    private static (uint, uint, uint) Grid(long n) => ((uint)Math.Clamp((n + 255) / 256, 1, 65535 * 8), 1, 1);

    public sealed class SwiGluFunction : autograd.SingleTensorFunction<SwiGluFunction>
    {
        public override string Name => "SharpTuneSwiGlu";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            CustomFunctionCall.Register(ctx);
            var gate = ((Tensor)vars[0]).contiguous();
            var up = ((Tensor)vars[1]).contiguous();
            var output = empty_like(gate);
            LaunchForward(gate, up, output);
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
                LaunchBackward(dh, gate, up, dGate, dUp);
                dGate.MoveToOuterDisposeScope();
                dUp.MoveToOuterDisposeScope();
            }

            gradOutput.Dispose();
            return [BackwardResults.Keep(dGate)!, BackwardResults.Keep(dUp)!];
        }
    }
}
