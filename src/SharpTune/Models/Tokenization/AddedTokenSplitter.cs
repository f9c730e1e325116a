namespace SharpTune.Models.Tokenization;

/// <summary>
/// Splits text at occurrences of added tokens (leftmost match first, the longest token where several start at the
/// same place, as Hugging Face <c>tokenizers</c> does), so that e.g. <c>&lt;|im_start|&gt;</c> in text becomes one id.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    /// <summary>A piece of the input: plain text (<see cref="TokenId"/> is -1) or one added token.</summary>
    public readonly record struct Piece(int Start, int Length, int TokenId)
    {
        public bool IsAddedToken => TokenId >= 0;
    }

    public List<Piece> Split(string text)
    {
        var pieces = new List<Piece>();
        int textStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            if (!TryMatchAt(text, i, out var token))
            {
                i++;
                continue;
            }

            int matchStart = i;
            int matchEnd = i + token.Content.Length;
            if (token.LeftStrip)
            {
                while (matchStart > textStart && char.IsWhiteSpace(text[matchStart - 1]))
                {
                    matchStart--;
                }
            }

            if (token.RightStrip)
            {
                while (matchEnd < text.Length && char.IsWhiteSpace(text[matchEnd]))
                {
                    matchEnd++;
                }
            }

            if (matchStart > textStart)
            {
                pieces.Add(new Piece(textStart, matchStart - textStart, -1));
            }

            pieces.Add(new Piece(matchStart, matchEnd - matchStart, token.Id));
            textStart = i = matchEnd;
        }

        if (textStart < text.Length)
        {
            pieces.Add(new Piece(textStart, text.Length - textStart, -1));
        }

        return pieces;
    }

    private bool TryMatchAt(string text, int position, out AddedToken token)
    {
        if (_byFirstChar.TryGetValue(text[position], out var candidates))
        {
            var rest = text.AsSpan(position);
            foreach (var candidate in candidates)
            {
                if (rest.StartsWith(candidate.Content, StringComparison.Ordinal))
                {
                    token = candidate;
                    return true;
                }
            }
        }

        token = null!;
        return false;
    }
}
