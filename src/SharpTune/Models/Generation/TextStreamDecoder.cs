namespace SharpTune.Models.Generation;

/// <summary>
/// Turns a growing list of token ids into text deltas for streaming: decodes all tokens so far and hands out what
/// is new, holding back a trailing U+FFFD (a character whose UTF-8 bytes are split across tokens) until it completes.
/// </summary>
public sealed class TextStreamDecoder(Func<IReadOnlyList<int>, string> decode)
{
    private readonly List<int> _tokens = [];
    private int _emitted;

    public string Text { get; private set; } = "";

    /// <summary>Adds a token and returns the text it completes (possibly empty).</summary>
    public string Add(int token)
    {
        _tokens.Add(token);
        Text = decode(_tokens);
        int stable = Text.Length;
        while (stable > _emitted && Text[stable - 1] == '\uFFFD')
        {
            stable--;
        }

        if (stable <= _emitted)
        {
            return "";
        }

        string delta = Text[_emitted..stable];
        _emitted = stable;
        return delta;
    }

    /// <summary>Whatever is still held back (at the end of generation).</summary>
    public string Flush()
    {
        string rest = Text.Length > _emitted ? Text[_emitted..] : "";
        _emitted = Text.Length;
        return rest;
    }
}
