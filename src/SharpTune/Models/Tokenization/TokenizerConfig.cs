using System.Text.Json;

namespace SharpTune.Models.Tokenization;

/// <summary>The parts of <c>tokenizer_config.json</c> SharpTune uses: special token names, BOS/EOS rules, chat template.</summary>
internal sealed record TokenizerConfig(string? BosToken, string? EosToken, string? PadToken, bool? AddBosToken, bool? AddEosToken, string? ChatTemplate, string? TokenizerClass = null)
{
    public static TokenizerConfig Read(string file)
    {
        if (!File.Exists(file))
        {
            return new TokenizerConfig(null, null, null, null, null, null);
        }

        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{file}: not valid JSON ({e.Message})", e);
        }

        using (json)
        {
            var root = json.RootElement;
            return new TokenizerConfig(
                TokenName(root, "bos_token"),
                TokenName(root, "eos_token"),
                TokenName(root, "pad_token"),
                OptionalBool(root, "add_bos_token"),
                OptionalBool(root, "add_eos_token"),
                Template(root, file),
                root.TryGetProperty("tokenizer_class", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null);
        }
    }

    private static string? TokenName(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        };
    }

    private static bool? OptionalBool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    private static string? Template(JsonElement root, string file)
    {
        if (!root.TryGetProperty("chat_template", out var value))
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Array:
                foreach (var named in value.EnumerateArray())
                {
                    if (named.TryGetProperty("name", out var n) && n.GetString() == "default")
                    {
                        return named.GetProperty("template").GetString();
                    }
                }

                return null;
            case JsonValueKind.Null:
                return null;
            default:
                throw new SharpTuneException($"{file}: chat_template must be a string or a list of named templates");
        }
    }
}
