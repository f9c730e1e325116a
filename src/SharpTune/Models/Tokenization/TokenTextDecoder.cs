using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SharpTune.Models.Tokenization;

/// <summary>
/// The <c>decoder</c> of a <c>tokenizer.json</c>, turning token strings back into text. Byte-level: each token's
/// characters map back to bytes through <see cref="ByteLevelAlphabet"/> (a token with other characters, such as an
/// added token, contributes its own UTF-8). SentencePiece: '▁' becomes a space, &lt;0xXX&gt; tokens are raw bytes,
/// and the leading spaces the <c>Strip</c> (or <c>Metaspace</c>) decoder names are removed from the start.
/// Invalid UTF-8 becomes U+FFFD.
/// </summary>
internal sealed class TokenTextDecoder
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private bool _byteLevel;
    private string? _replaceFrom;
    private string _replaceTo = "";
    private bool _byteFallback;
    private int _stripLeading;

    public static TokenTextDecoder Parse(JsonElement element, string file)
    {
        var decoder = new TokenTextDecoder();
        if (element.ValueKind != JsonValueKind.Null)
        {
            decoder.Add(element, file);
        }

        return decoder;
    }

    public string Decode(IEnumerable<string> tokens)
    {
        var bytes = new List<byte>();
        Span<byte> scratch = stackalloc byte[1];
        foreach (var token in tokens)
        {
            if (_byteLevel)
            {
                AppendByteLevel(token, bytes);
                continue;
            }

            if (_byteFallback && TryParseByteToken(token, out byte value))
            {
                bytes.Add(value);
                continue;
            }

            string text = _replaceFrom is null ? token : token.Replace(_replaceFrom, _replaceTo, StringComparison.Ordinal);
            bytes.AddRange(Encoding.UTF8.GetBytes(text));
        }

        string result = Utf8.GetString(bytes.ToArray());
        int strip = 0;
        while (strip < _stripLeading && strip < result.Length && result[strip] == ' ')
        {
            strip++;
        }

        return result[strip..];
    }

    private static void AppendByteLevel(string token, List<byte> bytes)
    {
        int start = bytes.Count;
        foreach (char c in token)
        {
            if (!ByteLevelAlphabet.TryGetByte(c, out byte b))
            {
                bytes.RemoveRange(start, bytes.Count - start);
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }

            bytes.Add(b);
        }
    }

    private static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    private void Add(JsonElement element, string file)
    {
        string type = element.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var child in element.GetProperty("decoders").EnumerateArray())
                {
                    Add(child, file);
                }

                break;
            case "ByteLevel":
                _byteLevel = true;
                break;
            case "Replace":
                _replaceFrom = element.GetProperty("pattern").GetProperty("String").GetString();
                _replaceTo = element.GetProperty("content").GetString() ?? "";
                break;
            case "ByteFallback":
                _byteFallback = true;
                break;
            case "Fuse":
                break;
            case "Strip":
                _stripLeading = element.GetProperty("start").GetInt32();
                break;
            case "Metaspace":
                string replacement = element.TryGetProperty("replacement", out var r) ? r.GetString() ?? "▁" : "▁";
                _replaceFrom = replacement;
                _replaceTo = " ";
                string scheme = element.TryGetProperty("prepend_scheme", out var s) ? s.GetString() ?? "always" : "always";
                _stripLeading = scheme == "never" ? 0 : 1;
                _byteFallback = true;
                break;
            default:
                throw new SharpTuneException($"{file}: decoder type '{type}' is not supported");
        }
    }
}
