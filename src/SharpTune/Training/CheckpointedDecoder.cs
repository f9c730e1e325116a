using SharpTune.Diagnostics;
using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// The training forward of a <see cref="CausalLM"/>'s decoder: embedding, each layer through
/// <see cref="CheckpointedFunction"/> (reseeded with <c>seed + i</c>, reporting the end of its backward), final norm.
/// With <c>checkpointedLayers</c> = N only the first N layers are checkpointed: the last layers' activations are kept
/// (their backward skips the recompute, for their activations' memory through the backward pass).
/// With <c>activationOffload</c>, the checkpointed layers it picks send their MLP's gate and up outputs to host memory
/// and take them back in their recompute (<see cref="ActivationOffload"/>).
/// What <see cref="ITrainableCausalLM.ForwardHidden"/> runs for models built on a CausalLM.
/// </summary>
public static class CheckpointedDecoder
{
    /// <remarks>
    /// No dispose scope of its own: checkpointed layers keep their inputs and the rotary tables for their
    /// recomputation in backward, so the caller's scope (the training micro-batch) owns every tensor made here.
    /// </remarks>
    public static Tensor ForwardHidden(CausalLM model, Tensor inputIds, GradientCheckpointing checkpointing, long seed, Action<int>? layerBackwardDone, int? checkpointedLayers = null,
        ActivationOffload? activationOffload = null)
    {
        long batch = inputIds.shape[0];
        long seq = inputIds.shape[1];
        var hidden = model.EmbedTokens(inputIds);
        StepTrace.Mark("embedding");
        var positions = arange(0, seq, ScalarType.Int64, inputIds.device).unsqueeze(0).expand(batch, seq);
        var (cos, sin) = model.Rotary.CosSin(positions, hidden.dtype);
        int checkpointed = checkpointing == GradientCheckpointing.Off ? 0 : Math.Min(checkpointedLayers ?? model.Layers.Count, model.Layers.Count);
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            int index = i;
            var mode = i < checkpointed ? checkpointing : GradientCheckpointing.Off;
            // The recompute for backward needs the layer's graph, not its output's value: the MLP may skip its last GEMMs.
            hidden = CheckpointedFunction.Run(h => layer.Forward(h, cos, sin, null, null), hidden, mode, seed + i,
                layerBackwardDone is null ? null : () => layerBackwardDone(index), label: $"layer {i}",
                recompute: h => layer.Forward(h, cos, sin, null, null, outputValueNeeded: false),
                activations: activationOffload?.RegionFor(i, checkpointed));
            StepTrace.Mark($"layer {i} forward");
        }

        var normed = model.Norm.call(hidden);
        StepTrace.Mark("final norm");
        return normed;
    }
}
