using SharpTune.Data.Templates;
using SharpTune.Models.Tokenization;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// Tokenizes a rendered prompt as one text (so BPE sees it exactly as at inference), with the tokenizer's special
/// tokens, then marks the completion: the token where each segment starts is found by encoding the text up to that
/// point and taking the common prefix with the full encoding. EOS is appended (as completion) when the template asks.
/// Longer samples are cut to <c>maxLength</c>.
/// </summary>
public sealed class SampleTokenizer(HfTokenizer tokenizer, int maxLength)
{
    private readonly int? _eosId = tokenizer.TokenToId(tokenizer.EosToken) ?? (tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0] : null);

    public HfTokenizer Tokenizer => tokenizer;

    public int MaxLength => maxLength;

    public (TokenizedSample Sample, bool Truncated) Tokenize(RenderedPrompt prompt)
    {
        string text = prompt.Text;
        var ids = tokenizer.Encode(text).ToList();
        var mask = new byte[ids.Count];
        int charOffset = 0;
        int tokenStart = 0;
        for (int s = 0; s < prompt.Segments.Count; s++)
        {
            var segment = prompt.Segments[s];
            charOffset += segment.Text.Length;
            int tokenEnd = s == prompt.Segments.Count - 1 ? ids.Count : CommonPrefix(tokenizer.Encode(text[..charOffset]), ids);
            if (segment.IsCompletion)
            {
                mask.AsSpan(tokenStart, tokenEnd - tokenStart).Fill(1);
            }

            tokenStart = tokenEnd;
        }

        var maskList = mask.ToList();
        if (prompt.AppendEos && _eosId is int eos && (ids.Count == 0 || ids[^1] != eos))
        {
            ids.Add(eos);
            maskList.Add(1);
        }

        bool truncated = ids.Count > maxLength;
        if (truncated)
        {
            ids.RemoveRange(maxLength, ids.Count - maxLength);
            maskList.RemoveRange(maxLength, maskList.Count - maxLength);
        }

        return (new TokenizedSample(ids.ToArray(), maskList.ToArray()), truncated);
    }

    private static int CommonPrefix(IReadOnlyList<int> prefix, List<int> full)
    {
        int n = Math.Min(prefix.Count, full.Count);
        int i = 0;
        while (i < n && prefix[i] == full[i])
        {
            i++;
        }

        return i;
    }
}
