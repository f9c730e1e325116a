using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Next-token cross-entropy, summed over the positions that have a label. Only labelled positions go through the
/// LM head, in chunks of <c>chunkTokens</c> rows; each chunk is checkpointed so that at most one chunk's logits
/// ([chunk, vocab] in float32) exist at a time, in forward and in backward.
/// </summary>
public static class CausalLmLoss
{
    public const int DefaultChunkTokens = 1024;

    /// <summary>The summed loss (a scalar tensor) of <paramref name="hidden"/> [b, t, h] under <paramref name="labels"/> [b, t].</summary>
    public static Tensor Sum(Func<Tensor, Tensor> lmHead, Tensor hidden, Tensor labels, int chunkTokens = DefaultChunkTokens, bool checkpointChunks = true)
    {
        var flatHidden = hidden.reshape(-1, hidden.shape[^1]);
        var flatLabels = labels.reshape(-1);
        var positions = nonzero(flatLabels.ne(TrainingBatch.IgnoreIndex)).view(-1);
        long count = positions.shape[0];
        if (count == 0)
        {
            return (flatHidden.sum() * 0).to(ScalarType.Float32);
        }

        var selected = flatHidden.index_select(0, positions);
        var targets = flatLabels.index_select(0, positions);
        Tensor? total = null;
        for (long start = 0; start < count; start += chunkTokens)
        {
            long size = Math.Min(chunkTokens, count - start);
            var chunkTargets = targets.narrow(0, start, size);
            Tensor ChunkLoss(Tensor h) => nn.functional.cross_entropy(lmHead(h).to(ScalarType.Float32), chunkTargets, reduction: nn.Reduction.Sum);
            var chunk = selected.narrow(0, start, size);
            var loss = CheckpointedFunction.Run(ChunkLoss, chunk, checkpointChunks ? GradientCheckpointing.On : GradientCheckpointing.Off);
            total = total is null ? loss : total + loss;
        }

        return total!;
    }
}
