namespace SharpTune.Evaluation;

/// <summary>Mean cross-entropy per labelled token over held-out rows, and its perplexity (e to the loss).</summary>
public sealed record HeldOutLoss(double Loss, long Tokens, int Rows)
{
    public double Perplexity => Math.Exp(Loss);

    /// <summary>From summed token losses: the mean over all tokens (not a mean of per-row means).</summary>
    public static HeldOutLoss FromSum(double lossSum, long tokens, int rows) =>
        tokens > 0 ? new HeldOutLoss(lossSum / tokens, tokens, rows) : throw new SharpTuneException("held-out rows have no labelled tokens");
}
