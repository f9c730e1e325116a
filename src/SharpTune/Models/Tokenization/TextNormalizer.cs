using System.Text;
using System.Text.Json;

namespace SharpTune.Models.Tokenization;

/// <summary>
/// The <c>normalizer</c> of a <c>tokenizer.json</c>: Unicode normalization (NFC/NFKC/NFD/NFKD), <c>Prepend</c>,
/// <c>Replace</c> (plain string patterns) and <c>Lowercase</c>, alone or in a <c>Sequence</c>. It runs on each
/// stretch of text between added tokens.
/// </summary>
internal sealed class TextNormalizer
{
    private readonly List<Func<string, string>> _steps = [];

    public static TextNormalizer None { get; } = new();

    public bool IsEmpty => _steps.Count == 0;

    public string Apply(string text)
    {
        foreach (var step in _steps)
        {
            text = step(text);
        }

        return text;
    }

    public static TextNormalizer Parse(JsonElement element, string file)
    {
        var normalizer = new TextNormalizer();
        if (element.ValueKind != JsonValueKind.Null)
        {
            normalizer.Add(element, file);
        }

        return normalizer;
    }

    private void Add(JsonElement element, string file)
    {
        string type = element.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var child in element.GetProperty("normalizers").EnumerateArray())
                {
                    Add(child, file);
                }

                break;
            case "NFC":
                _steps.Add(s => s.Normalize(NormalizationForm.FormC));
                break;
            case "NFKC":
                _steps.Add(s => s.Normalize(NormalizationForm.FormKC));
                break;
            case "NFD":
                _steps.Add(s => s.Normalize(NormalizationForm.FormD));
                break;
            case "NFKD":
                _steps.Add(s => s.Normalize(NormalizationForm.FormKD));
                break;
            case "Lowercase":
                _steps.Add(s => s.ToLowerInvariant());
                break;
            case "Prepend":
                string prefix = element.GetProperty("prepend").GetString() ?? "";
                _steps.Add(s => s.Length == 0 ? s : prefix + s);
                break;
            case "Replace":
                if (!element.GetProperty("pattern").TryGetProperty("String", out var pattern))
                {
                    throw new SharpTuneException($"{file}: normalizer Replace with a regex pattern is not supported");
                }

                string from = pattern.GetString() ?? "";
                string to = element.GetProperty("content").GetString() ?? "";
                _steps.Add(s => s.Replace(from, to, StringComparison.Ordinal));
                break;
            default:
                throw new SharpTuneException($"{file}: normalizer type '{type}' is not supported");
        }
    }
}
