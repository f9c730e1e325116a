using System.Text;

namespace SharpTune.Data.Templates;

/// <summary>
/// Text with <c>{name}</c> placeholders (<c>{{</c> and <c>}}</c> for literal braces), as custom templates in pipeline
/// YAML are written.
/// </summary>
public sealed class PlaceholderText
{
    private readonly List<(string Literal, string? Placeholder)> _parts = [];

    public PlaceholderText(string text)
    {
        Text = text;
        var literal = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if ((c == '{' || c == '}') && i + 1 < text.Length && text[i + 1] == c)
            {
                literal.Append(c);
                i++;
            }
            else if (c == '{')
            {
                int end = text.IndexOf('}', i + 1);
                if (end < 0)
                {
                    throw new SharpTuneException($"template: '{{' at position {i} is not closed by '}}' (write '{{{{' for a literal brace)");
                }

                string name = text[(i + 1)..end].Trim();
                if (name.Length == 0)
                {
                    throw new SharpTuneException($"template: empty placeholder '{{}}' at position {i}");
                }

                _parts.Add((literal.ToString(), name));
                literal.Clear();
                i = end;
            }
            else if (c == '}')
            {
                throw new SharpTuneException($"template: '}}' at position {i} has no opening '{{' (write '}}}}' for a literal brace)");
            }
            else
            {
                literal.Append(c);
            }
        }

        _parts.Add((literal.ToString(), null));
        Placeholders = _parts.Where(p => p.Placeholder is not null).Select(p => p.Placeholder!).Distinct().ToList();
    }

    public string Text { get; }

    public IReadOnlyList<string> Placeholders { get; }

    public string Fill(Func<string, string> value)
    {
        var result = new StringBuilder();
        foreach (var (literal, placeholder) in _parts)
        {
            result.Append(literal);
            if (placeholder is not null)
            {
                result.Append(value(placeholder));
            }
        }

        return result.ToString();
    }
}
