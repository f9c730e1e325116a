namespace SharpTune.Data.Tokenized;

/// <summary>One training example as token ids, with <see cref="CompletionMask"/>[i] = 1 where the loss is taken (the answer).</summary>
public sealed record TokenizedSample(int[] InputIds, byte[] CompletionMask)
{
    public int Length => InputIds.Length;

    public int CompletionTokens => CompletionMask.Count(m => m != 0);
}
