using System.Text.Json;
using System.Text.RegularExpressions;

namespace SharpTune.Models.Tokenization;

/// <summary>
/// The <c>pre_tokenizer</c> of a <c>tokenizer.json</c>: splits normalized text into the words BPE merges within.
/// Supports <c>Split</c> with a regex (behaviour <c>Isolated</c>), <c>ByteLevel</c> (with or without GPT-2's regex;
/// maps each word's UTF-8 bytes to <see cref="ByteLevelAlphabet"/>), <c>Metaspace</c>, alone or in a
/// <c>Sequence</c>; no pre-tokenizer means the whole text is one word (Llama 2).
/// </summary>
internal sealed class WordSplitter
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly List<Regex> _splits = [];
    private bool _byteLevel;
    private bool _byteLevelPrefixSpace;
    private char? _metaspace;
    private string _metaspacePrepend = "always";
    private bool _metaspaceSplit;

    public bool IsByteLevel => _byteLevel;

    /// <summary>SentencePiece's Metaspace: spaces become <paramref name="replacement"/>, which is prepended where missing; no split.</summary>
    public static WordSplitter Metaspace(char replacement = '▁') =>
        new() { _metaspace = replacement, _metaspacePrepend = "always", _metaspaceSplit = false };

    public static WordSplitter Parse(JsonElement element, string file)
    {
        var splitter = new WordSplitter();
        if (element.ValueKind != JsonValueKind.Null)
        {
            splitter.Add(element, file);
        }

        return splitter;
    }

    /// <summary>Splits one stretch of normalized text; <paramref name="isFirstSection"/> is false after an added token.</summary>
    public void Split(string text, bool isFirstSection, List<string> words)
    {
        if (_metaspace is char replacement)
        {
            text = text.Replace(' ', replacement);
            bool prepend = _metaspacePrepend == "always" || (_metaspacePrepend == "first" && isFirstSection);
            if (prepend && text.Length > 0 && text[0] != replacement)
            {
                text = replacement + text;
            }
        }

        if (_byteLevelPrefixSpace && text.Length > 0 && text[0] != ' ')
        {
            text = " " + text;
        }

        var pieces = new List<string> { text };
        foreach (var regex in _splits)
        {
            var next = new List<string>();
            foreach (var piece in pieces)
            {
                SplitIsolated(regex, piece, next);
            }

            pieces = next;
        }

        if (_metaspace is char marker && _metaspaceSplit)
        {
            var next = new List<string>();
            foreach (var piece in pieces)
            {
                int start = 0;
                for (int i = 1; i < piece.Length; i++)
                {
                    if (piece[i] == marker)
                    {
                        next.Add(piece[start..i]);
                        start = i;
                    }
                }

                next.Add(piece[start..]);
            }

            pieces = next;
        }

        foreach (var piece in pieces)
        {
            if (piece.Length > 0)
            {
                words.Add(_byteLevel ? ByteLevelAlphabet.Encode(piece) : piece);
            }
        }
    }

    private static void SplitIsolated(Regex regex, string text, List<string> output)
    {
        int last = 0;
        for (var match = regex.Match(text); match.Success; match = match.NextMatch())
        {
            if (match.Length == 0)
            {
                continue;
            }

            if (match.Index > last)
            {
                output.Add(text[last..match.Index]);
            }

            output.Add(match.Value);
            last = match.Index + match.Length;
        }

        if (last < text.Length)
        {
            output.Add(text[last..]);
        }
    }

    private static Regex Compile(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private void Add(JsonElement element, string file)
    {
        string type = element.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var child in element.GetProperty("pretokenizers").EnumerateArray())
                {
                    Add(child, file);
                }

                break;
            case "Split":
                string behavior = element.TryGetProperty("behavior", out var b) ? b.GetString() ?? "" : "";
                bool invert = element.TryGetProperty("invert", out var inv) && inv.GetBoolean();
                if (behavior != "Isolated" || invert)
                {
                    throw new SharpTuneException($"{file}: pre_tokenizer Split with behavior '{behavior}' (invert {invert}) is not supported");
                }

                var pattern = element.GetProperty("pattern");
                _splits.Add(pattern.TryGetProperty("Regex", out var regex)
                    ? Compile(regex.GetString()!)
                    : Compile(Regex.Escape(pattern.GetProperty("String").GetString()!)));
                break;
            case "ByteLevel":
                _byteLevel = true;
                _byteLevelPrefixSpace = element.TryGetProperty("add_prefix_space", out var prefix) && prefix.GetBoolean();
                if (!element.TryGetProperty("use_regex", out var useRegex) || useRegex.GetBoolean())
                {
                    _splits.Add(Compile(Gpt2Pattern));
                }

                break;
            case "Metaspace":
                _metaspace = (element.TryGetProperty("replacement", out var r) ? r.GetString() : null) is { Length: > 0 } s ? s[0] : '▁';
                _metaspacePrepend = element.TryGetProperty("prepend_scheme", out var scheme) ? scheme.GetString() ?? "always"
                    : element.TryGetProperty("add_prefix_space", out var add) && !add.GetBoolean() ? "never" : "always";
                _metaspaceSplit = !element.TryGetProperty("split", out var split) || split.GetBoolean();
                break;
            default:
                throw new SharpTuneException($"{file}: pre_tokenizer type '{type}' is not supported");
        }
    }
}
