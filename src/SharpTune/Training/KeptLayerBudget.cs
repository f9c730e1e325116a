using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// How many decoder layers can keep their activations (skip the recompute in backward) in the GPU memory left after a
/// fully checkpointed step: what <c>checkpoint_layers: auto</c> decides after the first step. A kept layer holds, per
/// token, what SharpTune's layer saves for backward: its input, the outputs of both norms, q, k and v, the attention
/// output, the residual after attention, and the MLP's gate and up (the LoRA MLP node recomputes their product), in the
/// compute dtype. Measured at Llama-3-8B, 2 x 2048 tokens, bf16: 472 MiB per kept layer against 432 MiB counted here,
/// hence the margin.
/// </summary>
public static class KeptLayerBudget
{
    /// <summary>Each kept layer is counted this many times its counted bytes (attention statistics, rank-r tensors, allocator rounding).</summary>
    public const double Margin = 1.25;

    /// <summary>This fraction of the device's memory is left free (other processes, fragmentation, longer batches).</summary>
    public const double Headroom = 0.10;

    /// <summary>Bytes one kept decoder layer of <paramref name="config"/> holds per token in <paramref name="dtype"/>.</summary>
    public static long BytesPerToken(ModelConfig config, ScalarType dtype)
    {
        long kv = (long)config.NumKeyValueHeads * config.HeadDim;
        long queries = (long)config.NumAttentionHeads * config.HeadDim;
        // input, norm 1 output, q, attention output, residual, norm 2 output: hidden or q-sized; k, v; gate, up.
        long values = 4L * config.HiddenSize + 2 * queries + 2 * kv + 2L * config.IntermediateSize;
        return values * ElementSize(dtype);
    }

    /// <summary>
    /// The layers, of <paramref name="layers"/>, that can keep their activations: as many as fit, each at
    /// <paramref name="bytesPerLayer"/> times <see cref="Margin"/>, in the device's free memory
    /// (<paramref name="deviceTotalBytes"/> - <paramref name="deviceUsedBytes"/>) less <see cref="Headroom"/> of the total.
    /// </summary>
    public static int KeptLayers(long deviceTotalBytes, long deviceUsedBytes, long bytesPerLayer, int layers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerLayer);
        double spare = deviceTotalBytes * (1 - Headroom) - deviceUsedBytes;
        return spare <= 0 ? 0 : (int)Math.Min(layers, Math.Floor(spare / (bytesPerLayer * Margin)));
    }

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float64 => 8,
        _ => 2,
    };
}
