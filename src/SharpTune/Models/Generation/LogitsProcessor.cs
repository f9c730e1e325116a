using static TorchSharp.torch;

namespace SharpTune.Models.Generation;

/// <summary>
/// The logits transforms of Hugging Face <c>generate</c>, each as HF defines it, on float32 scores [batch, vocab]:
/// repetition penalty, temperature, top-k (ties at the k-th score kept), top-p (nucleus, at least one token kept).
/// </summary>
public static class LogitsProcessor
{
    /// <summary>For every token id present in <paramref name="sequences"/> [batch, len]: score &lt; 0 ? score * penalty : score / penalty.</summary>
    public static Tensor RepetitionPenalty(Tensor scores, Tensor sequences, double penalty)
    {
        using var scope = NewDisposeScope();
        var picked = scores.gather(1, sequences);
        var penalized = where(picked < 0, picked * penalty, picked / penalty);
        return scores.scatter(1, sequences, penalized).MoveToOuterDisposeScope();
    }

    public static Tensor Temperature(Tensor scores, double temperature) => scores / temperature;

    /// <summary>Scores below the k-th largest become -inf.</summary>
    public static Tensor TopK(Tensor scores, int k)
    {
        using var scope = NewDisposeScope();
        k = (int)Math.Min(k, scores.shape[^1]);
        var (values, _) = scores.topk(k, dim: -1);
        var threshold = values.narrow(-1, k - 1, 1);
        return scores.masked_fill(scores < threshold, float.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>Removes the least likely tokens whose cumulative probability (ascending) stays within 1 - p; the most likely token always stays.</summary>
    public static Tensor TopP(Tensor scores, double p)
    {
        using var scope = NewDisposeScope();
        var (sorted, indices) = scores.sort(dim: -1, descending: false);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        var removeSorted = cumulative <= (1 - p);
        removeSorted.narrow(-1, removeSorted.shape[^1] - 1, 1).fill_(false);
        var remove = removeSorted.scatter(1, indices, removeSorted);
        return scores.masked_fill(remove, float.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
