using SharpTune.Diagnostics;
using SharpTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Training;

/// <summary>
/// Activation checkpointing as a custom autograd function (PyTorch's reentrant <c>checkpoint</c>): forward runs the
/// body without building a graph and keeps only its input (on the device, or in pinned host memory); backward sets
/// the same seed, reruns the body with grad enabled and backpropagates through it, which accumulates the gradients
/// of the body's parameters (LoRA weights) and returns the input's gradient.
/// Arguments of <c>apply</c>: input, <see cref="CheckpointBody"/>.
/// </summary>
public sealed class CheckpointedFunction : SingleTensorFunction<CheckpointedFunction>
{
    private const string StateKey = "checkpoint";

    public override string Name => "Checkpointed";

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="input"/> as configured by <paramref name="mode"/>. With
    /// <see cref="GradientCheckpointing.Off"/> (or grad disabled) it is a plain call. An input that does not require
    /// grad (the frozen embeddings' output) is turned into one that does, or no gradient would reach the body's
    /// parameters (what HF's <c>enable_input_require_grads</c> does).
    /// </summary>
    /// <param name="recompute">
    /// What backward reruns instead of <paramref name="body"/>: the same graph, but free to skip computing values that
    /// only the region's output carries (its gradient is given). Null: <paramref name="body"/>.
    /// </param>
    /// <param name="activations">
    /// Where the body's forward sends activations its recompute takes back instead of computing them
    /// (<see cref="ActivationOffloadRegion"/>); null: none.
    /// </param>
    public static Tensor Run(Func<Tensor, Tensor> body, Tensor input, GradientCheckpointing mode, long? seed = null, Action? afterBackward = null, string? label = null,
        Func<Tensor, Tensor>? recompute = null, ActivationOffloadRegion? activations = null)
    {
        if (seed is { } s)
        {
            RandomSeeds.SetAll(s);
        }

        if (mode == GradientCheckpointing.Off || !is_grad_enabled())
        {
            return body(input);
        }

        if (!input.requires_grad)
        {
            input = input.detach().requires_grad_(true);
        }

        var checkpointBody = new CheckpointBody(body, mode == GradientCheckpointing.Offload, seed, afterBackward, label, recompute, activations);
        return CustomFunctionCall.Apply(() => apply(input, checkpointBody));
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var body = (CheckpointBody)vars[1];
        CustomFunctionCall.Register(ctx);
        Tensor kept;
        if (body.Offload && input.device.type == DeviceType.CUDA)
        {
            kept = empty(input.shape, input.dtype, CPU).pin_memory();
            kept.copy_(input, true);
        }
        else
        {
            kept = input.detach();
        }

        ctx.save_data(StateKey, new SavedInput(kept, input.device, body));
        using (body.Activations?.Record())
        {
            return body.Body(input);
        }
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        BackwardResults.BeginCall();
        var saved = (SavedInput)ctx.get_data(StateKey);
        if (grad_output.IsInvalid)
        {
            // Gradients are not materialized (CustomFunctionCall): none reached this region's output.
            saved.Release();
            saved.Body.Activations?.Release();
            saved.Body.AfterBackward?.Invoke();
            return [null!, null!];
        }

        Tensor gradInput;
        using (var scope = NewDisposeScope())
        {
            var x = saved.Input.to(saved.Device, non_blocking: true).detach().requires_grad_(true);
            // NF4 weights the recompute dequantizes are kept for this region's backward GEMMs instead of dequantized again.
            using (DequantizedWeightCache.Open())
            using (enable_grad())
            {
                if (saved.Body.Seed is { } seed)
                {
                    RandomSeeds.SetAll(seed);
                }

                Tensor output;
                using (saved.Body.Activations?.Replay())
                {
                    output = (saved.Body.Recompute ?? saved.Body.Body)(x);
                }

                StepTrace.Mark($"{saved.Body.Label ?? "checkpointed region"} recomputed");
                autograd.backward([output], [grad_output]);
            }

            gradInput = x.grad!.MoveToOuterDisposeScope();
        }

        saved.Release();
        grad_output.Dispose();
        // The body's parameters have their gradients for this backward now (a data-parallel trainer reduces them).
        StepTrace.Mark($"{saved.Body.Label ?? "checkpointed region"} backward");
        saved.Body.AfterBackward?.Invoke();
        return [BackwardResults.Keep(gradInput)!, null!];
    }

    private sealed class SavedInput(Tensor input, Device device, CheckpointBody body)
    {
        public Tensor Input { get; } = input;

        public Device Device { get; } = device;

        public CheckpointBody Body { get; } = body;

        public void Release() => Input.Dispose();
    }
}

/// <summary>
/// What a checkpointed region runs: a function of one tensor, whether to offload its input, its seed, what to call after
/// its backward, its name in a <see cref="Diagnostics.StepTrace"/>, what to rerun in backward if not the same function,
/// and where its forward sends activations for the rerun to take back.
/// </summary>
public sealed record CheckpointBody(Func<Tensor, Tensor> Body, bool Offload, long? Seed, Action? AfterBackward = null, string? Label = null,
    Func<Tensor, Tensor>? Recompute = null, ActivationOffloadRegion? Activations = null);
