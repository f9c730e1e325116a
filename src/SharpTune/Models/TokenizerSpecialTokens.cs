using System.Text.Json;

namespace SharpTune.Models;

/// <summary>
/// The vocabulary size and the BOS/EOS/PAD ids of a Hugging Face tokenizer directory, read from
/// <c>tokenizer.json</c> (vocab + added tokens) and <c>tokenizer_config.json</c> (which tokens are special):
/// what a model's config.json needs to match its tokenizer.
/// </summary>
public sealed record TokenizerSpecialTokens(int VocabularySize, int? BosTokenId, int? EosTokenId, int? PadTokenId)
{
    public static TokenizerSpecialTokens Read(string directory)
    {
        string tokenizerPath = Path.Combine(directory, "tokenizer.json");
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int maxId = -1;
        try
        {
            using var tokenizer = JsonDocument.Parse(File.ReadAllBytes(tokenizerPath));
            if (tokenizer.RootElement.TryGetProperty("model", out var model) && model.TryGetProperty("vocab", out var vocab) && vocab.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in vocab.EnumerateObject())
                {
                    int id = entry.Value.GetInt32();
                    ids[entry.Name] = id;
                    maxId = Math.Max(maxId, id);
                }
            }

            if (tokenizer.RootElement.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            {
                foreach (var token in added.EnumerateArray())
                {
                    int id = token.GetProperty("id").GetInt32();
                    ids[token.GetProperty("content").GetString()!] = id;
                    maxId = Math.Max(maxId, id);
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new SharpTuneException($"{tokenizerPath}: not a Hugging Face tokenizer.json ({e.Message.Split('\n')[0]})");
        }

        if (maxId < 0)
        {
            throw new SharpTuneException($"{tokenizerPath}: no vocabulary found");
        }

        string? bos = null, eos = null, pad = null;
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
            bos = TokenText(config.RootElement, "bos_token");
            eos = TokenText(config.RootElement, "eos_token");
            pad = TokenText(config.RootElement, "pad_token");
        }

        int? Lookup(string? text) => text is not null && ids.TryGetValue(text, out int id) ? id : null;
        return new TokenizerSpecialTokens(maxId + 1, Lookup(bos), Lookup(eos), Lookup(pad));
    }

    private static string? TokenText(JsonElement config, string field)
    {
        if (!config.TryGetProperty(field, out var value))
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
}
