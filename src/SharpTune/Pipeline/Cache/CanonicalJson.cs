using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// One spelling for one value: object keys sorted (ordinal), no whitespace, numbers in their shortest round-trip
/// form. Two settings objects that mean the same thing hash the same, whatever order they were built in.
/// </summary>
public static class CanonicalJson
{
    public static string Serialize(JsonNode? node)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            Write(writer, node);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    Write(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.Number:
                double number = double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
                if (Math.Abs(number) < 1e15 && number == Math.Floor(number))
                {
                    writer.WriteNumberValue((long)number);
                }
                else
                {
                    writer.WriteNumberValue(number);
                }

                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
