using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Data.Sources;

namespace SharpTune.Data.Mapping;

/// <summary>
/// Maps a template's placeholders (e.g. <c>instruction</c>, <c>input</c>, <c>output</c>) to fields of the source rows
/// (dotted paths such as <c>question.text</c>); a placeholder with no entry reads the field of its own name.
/// Optional placeholders may be missing or empty (Alpaca's <c>input</c>).
/// </summary>
public sealed class FieldMapping
{
    private readonly Dictionary<string, FieldPath> _paths;

    public FieldMapping(IReadOnlyDictionary<string, string>? paths = null)
    {
        _paths = (paths ?? new Dictionary<string, string>()).ToDictionary(p => p.Key, p => new FieldPath(p.Value));
    }

    public static FieldMapping Identity { get; } = new();

    /// <summary>A stable description of the mapping (part of the tokenized cache's key).</summary>
    public string Fingerprint => string.Join(";", _paths.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value.Text}"));

    public FieldPath PathOf(string placeholder) => _paths.TryGetValue(placeholder, out var path) ? path : new FieldPath(placeholder);

    /// <summary>The text of <paramref name="placeholder"/> in <paramref name="record"/>; numbers and booleans are written as JSON.</summary>
    public string GetText(DataRecord record, string placeholder, bool optional = false)
    {
        var path = PathOf(placeholder);
        if (!path.TryResolve(record.Fields, out var node) || node is null)
        {
            return optional ? "" : throw new BadRowException(record.Source, record.RowNumber, path.Text, "missing");
        }

        if (node is not JsonValue value)
        {
            throw new BadRowException(record.Source, record.RowNumber, path.Text, $"expected text, found a JSON {(node is JsonArray ? "array" : "object")}");
        }

        string text = value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.ToJsonString(),
            var kind => throw new BadRowException(record.Source, record.RowNumber, path.Text, $"expected text, found {kind}"),
        };
        if (!optional && string.IsNullOrWhiteSpace(text))
        {
            throw new BadRowException(record.Source, record.RowNumber, path.Text, "empty text");
        }

        return text;
    }
}
