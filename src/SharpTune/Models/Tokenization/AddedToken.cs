namespace SharpTune.Models.Tokenization;

/// <summary>
/// A token of <c>tokenizer.json</c>'s <c>added_tokens</c>: matched in raw text before BPE and encoded as one id.
/// <paramref name="Special"/> tokens (BOS, EOS, chat markers) are dropped by <c>Decode(skipSpecialTokens: true)</c>.
/// <paramref name="LeftStrip"/>/<paramref name="RightStrip"/> make a match swallow the whitespace beside it.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LeftStrip = false, bool RightStrip = false);
