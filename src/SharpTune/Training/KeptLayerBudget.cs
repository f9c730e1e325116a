using SharpTune.Distributed;
using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// How many decoder layers can keep their activations (skip the recompute in backward) in the GPU memory left after a
/// fully checkpointed step: what <c>checkpoint_layers: auto</c> decides after the first step. A kept layer holds, per
/// token, what SharpTune's layer saves for backward: its input, the outputs of both norms, q, k and v, the attention
/// output, the residual after attention and the MLP's gate and up, in the compute dtype; without the fused LoRA MLP
/// node also silu(gate) * up; with LoRA dropout also each projection's dropped input and its mask. Measured at
/// Llama-3-8B, 2 x 2048 tokens, bf16, fused: 472 MiB per kept layer against 432 MiB counted here, hence the margin.
/// </summary>
public static class KeptLayerBudget
{
    /// <summary>Each kept layer is counted this many times its counted bytes (attention statistics, rank-r tensors, allocator rounding).</summary>
    public const double Margin = 1.25;

    /// <summary>This fraction of the device's memory is left free (fragmentation, other processes starting).</summary>
    public const double Headroom = 0.10;

    /// <summary>Bytes one kept decoder layer of <paramref name="config"/> holds per token in <paramref name="dtype"/>.</summary>
    /// <param name="fusedMlp">The MLP is one LoRA MLP node (it recomputes silu(gate) * up in backward).</param>
    /// <param name="dropout">LoRA dropout is active: each projection keeps its dropped input and a one-byte mask.</param>
    public static long BytesPerToken(ModelConfig config, ScalarType dtype, bool fusedMlp = true, bool dropout = false)
    {
        long hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        long kv = (long)config.NumKeyValueHeads * config.HeadDim;
        long queries = (long)config.NumAttentionHeads * config.HeadDim;
        // input, norm 1 output, residual, norm 2 output; q and the attention output; k, v; gate, up.
        long values = 4 * hidden + 2 * queries + 2 * kv + 2 * intermediate;
        if (!fusedMlp)
        {
            values += intermediate;
        }

        // The dropped inputs of q, k, v (hidden each), o (queries), gate, up (hidden each) and down (intermediate).
        long dropped = dropout ? 5 * hidden + queries + intermediate : 0;
        return (values + dropped) * GradientBucketPlan.ElementSize(dtype) + dropped;
    }

    /// <summary>
    /// The first layers that stay checkpointed after a fully checkpointed step, so that the rest's activations fit in
    /// <paramref name="freeBytes"/> less <see cref="Headroom"/> of <paramref name="totalBytes"/>: each kept layer is
    /// <paramref name="bytesPerToken"/> x <paramref name="tokens"/> x <see cref="Margin"/>. When the measured step had
    /// fewer tokens per micro-batch (<paramref name="measuredTokens"/>) than the longest one the run can have, what
    /// grows with length in a checkpointed run (the layers' checkpointed inputs, <paramref name="checkpointBytesPerToken"/>
    /// for all of them, and one recomputed layer) is set aside for the difference. With <paramref name="budgetLeftBytes"/>
    /// (a memory budget less what the measured step used at its peak), the kept layers also fit in that.
    /// </summary>
    public static int CheckpointedLayers(long freeBytes, long totalBytes, long bytesPerToken, long checkpointBytesPerToken, long tokens, long measuredTokens, int layers,
        long? budgetLeftBytes = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerToken);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        long unseen = Math.Max(0, tokens - measuredTokens);
        double growth = (double)unseen * (checkpointBytesPerToken + bytesPerToken);
        double spare = freeBytes - totalBytes * Headroom - growth;
        if (budgetLeftBytes is { } budgetLeft)
        {
            spare = Math.Min(spare, budgetLeft - growth);
        }

        double perLayer = (double)bytesPerToken * tokens * Margin;
        int kept = spare <= 0 ? 0 : (int)Math.Min(layers, Math.Floor(spare / perLayer));
        return layers - kept;
    }

    /// <summary>Bytes of one layer's checkpointed input per token (the hidden state in <paramref name="dtype"/>).</summary>
    public static long CheckpointBytesPerToken(ModelConfig config, ScalarType dtype) => config.HiddenSize * GradientBucketPlan.ElementSize(dtype);
}
