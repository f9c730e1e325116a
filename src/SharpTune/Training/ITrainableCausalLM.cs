using SharpTune.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// What <see cref="SftTrainer"/> needs from a model: the final hidden states (decoder layers checkpointed as asked),
/// the LM head applied to hidden rows, the trainable parameters by name, and a way to save them as an adapter.
/// </summary>
public interface ITrainableCausalLM
{
    Device Device { get; }

    /// <summary>The dtype activations are computed in (bf16, fp16 or fp32); fp16 turns on loss scaling.</summary>
    ScalarType ComputeDtype { get; }

    /// <summary>The decoder's architecture, for sizing its activations (<c>checkpoint_layers: auto</c>); null if unknown.</summary>
    ModelConfig? Architecture => null;

    /// <summary>
    /// Hidden states [batch, length, hidden] after the final norm. Layer i reseeds dropout with <c>seed + i</c>. With
    /// checkpointing, <paramref name="layerBackwardDone"/>(i) is called when layer i's backward has finished (its
    /// trainable parameters have their gradients), so a data-parallel trainer can reduce them while earlier layers
    /// are still in backward. <paramref name="checkpointedLayers"/> limits checkpointing to the first N layers (null:
    /// all); the others keep their activations for backward. <paramref name="activationOffload"/> sends some checkpointed
    /// layers' MLP gate and up outputs to host memory for their recompute (null: none).
    /// </summary>
    Tensor ForwardHidden(Tensor inputIds, GradientCheckpointing checkpointing, long seed, Action<int>? layerBackwardDone = null, int? checkpointedLayers = null,
        ActivationOffload? activationOffload = null);

    /// <summary>Logits for hidden rows [n, hidden] -> [n, vocab].</summary>
    Tensor LmHead(Tensor hidden);

    /// <summary>The trainable parameters with stable names (PEFT-style module paths).</summary>
    IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters { get; }

    /// <summary>Sets training mode (dropout on) or evaluation mode.</summary>
    void SetTraining(bool training);

    /// <summary>Writes the trainable weights as a loadable adapter directory (PEFT format for LoRA models).</summary>
    void SaveAdapter(string directory);
}
