using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace SharpTune.Pipeline.Config;

/// <summary>
/// Reads one mapping of a pipeline file with types, defaults and positions. Every key a section knows is asked
/// for exactly once; <see cref="Finish"/> then reports the keys nobody asked for as unknown, suggesting the
/// closest known key. Wrong types and missing values are reported through the <see cref="ConfigReader"/>, and the
/// getters return the default so reading can go on and find every problem in one pass.
/// </summary>
public sealed class YamlSection
{
    private readonly ConfigReader _reader;
    private readonly YamlMappingNode _node;
    private readonly YamlNode _anchor;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    /// <param name="anchor">Where problems of a section that is absent are reported (its parent); defaults to the node.</param>
    public YamlSection(ConfigReader reader, YamlMappingNode node, string path, YamlNode? anchor = null)
    {
        _reader = reader;
        _node = node;
        _anchor = anchor ?? node;
        Path = path;
    }

    /// <summary>The dotted path of this section ("training"), empty for the root.</summary>
    public string Path { get; }

    public YamlNode Node => _node;

    private string Qualified(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    /// <summary>The node under <paramref name="key"/>, or null when absent (marks the key as known).</summary>
    public YamlNode? Raw(string key)
    {
        _known.Add(key);
        foreach (var (k, v) in _node.Children)
        {
            if (k is YamlScalarNode { Value: { } name } && name == key)
            {
                return IsNull(v) ? null : v;
            }
        }

        return null;
    }

    /// <summary>Whether the key is present with a non-null value.</summary>
    public bool Has(string key) => Raw(key) is not null;

    public string? OptionalString(string key)
    {
        var node = Raw(key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlScalarNode scalar)
        {
            return scalar.Value;
        }

        _reader.Error(node, $"'{Qualified(key)}' must be a string, got {Describe(node)}");
        return null;
    }

    public string String(string key, string defaultValue) => OptionalString(key) ?? defaultValue;

    public string? RequiredString(string key, string? hint = null)
    {
        var value = OptionalString(key);
        if (value is null && !Has(key))
        {
            MissingValue(key, hint);
        }

        return value;
    }

    public int Int(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        var node = Raw(key);
        if (node is null)
        {
            return defaultValue;
        }

        if (node is YamlScalarNode { Value: { } text } && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            if (value < min || value > max)
            {
                _reader.Error(node, $"'{Qualified(key)}' must be {Range(min, max)}, got {value}");
                return defaultValue;
            }

            return value;
        }

        _reader.Error(node, $"'{Qualified(key)}' must be an integer, got {Describe(node)}");
        return defaultValue;
    }

    public int? OptionalInt(string key, int min = int.MinValue, int max = int.MaxValue) =>
        Has(key) ? Int(key, 0, min, max) : null;

    public double Double(string key, double defaultValue, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var node = Raw(key);
        if (node is null)
        {
            return defaultValue;
        }

        if (node is YamlScalarNode { Value: { } text }
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value))
        {
            if (value < min || value > max)
            {
                _reader.Error(node, $"'{Qualified(key)}' must be {Range(min, max)}, got {text}");
                return defaultValue;
            }

            return value;
        }

        _reader.Error(node, $"'{Qualified(key)}' must be a number, got {Describe(node)}");
        return defaultValue;
    }

    public bool Bool(string key, bool defaultValue)
    {
        var node = Raw(key);
        if (node is null)
        {
            return defaultValue;
        }

        if (node is YamlScalarNode { Value: { } text })
        {
            switch (text.ToLowerInvariant())
            {
                case "true" or "yes" or "on":
                    return true;
                case "false" or "no" or "off":
                    return false;
            }
        }

        _reader.Error(node, $"'{Qualified(key)}' must be true or false, got {Describe(node)}");
        return defaultValue;
    }

    /// <summary>A string that must be one of <paramref name="allowed"/> (case-insensitive; returned as listed).</summary>
    public string Choice(string key, string defaultValue, params string[] allowed)
    {
        var node = Raw(key);
        if (node is null)
        {
            return defaultValue;
        }

        if (node is YamlScalarNode { Value: { } text })
        {
            var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
            if (match is not null)
            {
                return match;
            }

            string? suggestion = KeySuggestion.Closest(text, allowed);
            _reader.Error(node, $"'{Qualified(key)}' must be one of {string.Join(", ", allowed)}, got '{text}'" +
                (suggestion is null ? "" : $" (did you mean '{suggestion}'?)"));
            return defaultValue;
        }

        _reader.Error(node, $"'{Qualified(key)}' must be one of {string.Join(", ", allowed)}, got {Describe(node)}");
        return defaultValue;
    }

    /// <summary>A list of strings; a single scalar is accepted as a one-item list.</summary>
    public IReadOnlyList<string> StringList(string key, IReadOnlyList<string> defaultValue, IReadOnlyList<string>? allowed = null)
    {
        var node = Raw(key);
        if (node is null)
        {
            return defaultValue;
        }

        IEnumerable<YamlNode> items = node switch
        {
            YamlSequenceNode sequence => sequence.Children,
            YamlScalarNode => [node],
            _ => [],
        };
        if (node is YamlMappingNode)
        {
            _reader.Error(node, $"'{Qualified(key)}' must be a list of strings, got {Describe(node)}");
            return defaultValue;
        }

        var values = new List<string>();
        foreach (var item in items)
        {
            if (item is not YamlScalarNode { Value: { } text } || IsNull(item))
            {
                _reader.Error(item, $"'{Qualified(key)}' must be a list of strings; this item is {Describe(item)}");
                continue;
            }

            if (allowed is not null)
            {
                var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    string? suggestion = KeySuggestion.Closest(text, allowed);
                    _reader.Error(item, $"'{Qualified(key)}': unknown value '{text}'; expected one of {string.Join(", ", allowed)}" +
                        (suggestion is null ? "" : $" (did you mean '{suggestion}'?)"));
                    continue;
                }

                values.Add(match);
            }
            else
            {
                values.Add(text);
            }
        }

        return values;
    }

    /// <summary>A nested mapping, or null when absent (a wrong type is reported).</summary>
    public YamlSection? Section(string key)
    {
        var node = Raw(key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlMappingNode mapping)
        {
            return new YamlSection(_reader, mapping, Qualified(key));
        }

        _reader.Error(node, $"'{Qualified(key)}' must be a mapping (indented 'key: value' lines), got {Describe(node)}");
        return null;
    }

    /// <summary>A nested mapping that may be absent: an empty section positioned at this one when absent.</summary>
    public YamlSection SectionOrEmpty(string key) => Section(key) ?? new YamlSection(_reader, new YamlMappingNode(), Qualified(key), _node);

    public void MissingValue(string key, string? hint = null)
    {
        var present = _node.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: { } name } && name == key);
        var at = present.Key is null ? _anchor.Start : present.Key.Start;
        _reader.Error(at, $"missing value for '{Qualified(key)}'{(hint is null ? "" : " (" + hint + ")")}");
    }

    public void Error(YamlNode at, string message) => _reader.Error(at, message);

    public void Error(string key, string message)
    {
        var at = Raw(key) ?? _anchor;
        _reader.Error(at, message);
    }

    /// <summary>Reports every key that was never asked for, with the closest known key as a suggestion.</summary>
    public void Finish()
    {
        foreach (var (k, _) in _node.Children)
        {
            if (k is not YamlScalarNode { Value: { } name })
            {
                _reader.Error(k, $"keys in '{(Path.Length == 0 ? "the pipeline" : Path)}' must be plain words");
                continue;
            }

            if (!_known.Contains(name))
            {
                string? suggestion = KeySuggestion.Closest(name, _known) ?? KeySuggestion.Alias(name, _known);
                string where = Path.Length == 0 ? "at the top level" : $"in '{Path}'";
                _reader.Error(k, $"unknown key '{name}' {where}" + (suggestion is null
                    ? $"; known keys: {string.Join(", ", _known.Order(StringComparer.Ordinal))}"
                    : $" (did you mean '{suggestion}'?)"));
            }
        }
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode scalar && scalar.Style == YamlDotNet.Core.ScalarStyle.Plain
        && (scalar.Value is null or "" or "~" or "null" or "Null" or "NULL");

    private static string Range(double min, double max) => (double.IsInfinity(min) || min == int.MinValue, double.IsInfinity(max) || max == int.MaxValue) switch
    {
        (false, false) => $"between {Format(min)} and {Format(max)}",
        (false, true) => $"at least {Format(min)}",
        (true, false) => $"at most {Format(max)}",
        _ => "a number",
    };

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode { Value: { } text } when !IsNull(node) => $"'{text}'",
        YamlScalarNode => "nothing",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => "something else",
    };
}
