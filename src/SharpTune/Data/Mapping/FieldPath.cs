using System.Globalization;
using System.Text.Json.Nodes;

namespace SharpTune.Data.Mapping;

/// <summary>A dotted path to a field of a row, e.g. <c>output</c>, <c>meta.answer.text</c> or <c>choices.0.text</c>.</summary>
public sealed record FieldPath(string Text)
{
    private readonly string[] _parts = Text.Split('.');

    /// <summary>Finds the node; false when some part of the path is missing.</summary>
    public bool TryResolve(JsonObject row, out JsonNode? node)
    {
        node = row;
        foreach (var part in _parts)
        {
            switch (node)
            {
                case JsonObject obj when obj.TryGetPropertyValue(part, out var child):
                    node = child;
                    break;
                case JsonArray array when int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < array.Count:
                    node = array[index];
                    break;
                default:
                    node = null;
                    return false;
            }
        }

        return true;
    }

    public override string ToString() => Text;
}
