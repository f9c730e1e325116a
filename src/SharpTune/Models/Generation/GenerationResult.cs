namespace SharpTune.Models.Generation;

/// <summary>The new tokens of each prompt (EOS included where one ended it; no padding) and how fast they came.</summary>
public sealed record GenerationResult(
    IReadOnlyList<IReadOnlyList<int>> Tokens,
    IReadOnlyList<FinishReason> FinishReasons,
    int PromptTokens,
    TimeSpan PrefillTime,
    TimeSpan DecodeTime)
{
    public int GeneratedTokens => Tokens.Sum(t => t.Count);

    /// <summary>Generated tokens per second over prefill and decoding.</summary>
    public double TokensPerSecond => GeneratedTokens / Math.Max(1e-9, (PrefillTime + DecodeTime).TotalSeconds);
}
