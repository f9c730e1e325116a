using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Models.Checkpoint;

namespace SharpTune.Models;

/// <summary>
/// A model's <c>generation_config.json</c>: special token ids and default sampling settings. Missing file or
/// fields mean Hugging Face's defaults (greedy unless <c>do_sample</c>).
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    public bool DoSample { get; init; }

    public double? Temperature { get; init; }

    public int? TopK { get; init; }

    public double? TopP { get; init; }

    public double? RepetitionPenalty { get; init; }

    public int? MaxNewTokens { get; init; }

    /// <summary>Reads <c>generation_config.json</c> from <paramref name="directory"/>, or returns null if there is none.</summary>
    public static GenerationConfig? TryLoad(string directory)
    {
        string path = Path.Combine(directory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    public static GenerationConfig Parse(string json, string source = FileName)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new SharpTuneException($"{source}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{source}: not valid JSON ({e.Message.Split('\n')[0]})");
        }

        return new GenerationConfig
        {
            BosTokenId = Int(root, "bos_token_id", source),
            EosTokenIds = IntList(root, "eos_token_id", source),
            PadTokenId = Int(root, "pad_token_id", source),
            DoSample = root["do_sample"] is JsonValue sample && sample.GetValueKind() == JsonValueKind.True,
            Temperature = Double(root, "temperature", source),
            TopK = Int(root, "top_k", source),
            TopP = Double(root, "top_p", source),
            RepetitionPenalty = Double(root, "repetition_penalty", source),
            MaxNewTokens = Int(root, "max_new_tokens", source),
        };
    }

    public string ToJson()
    {
        var root = new JsonObject
        {
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(id => (JsonNode?)id).ToArray()),
        };
        if (PadTokenId is { } pad)
        {
            root["pad_token_id"] = pad;
        }

        if (DoSample)
        {
            root["do_sample"] = true;
            root["temperature"] = Temperature;
            root["top_p"] = TopP;
            root["top_k"] = TopK;
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), ToJson());

    private static JsonNode? Value(JsonObject root, string name) => root[name] is { } node && node.GetValueKind() != JsonValueKind.Null ? node : null;

    private static int? Int(JsonObject root, string name, string source) => Value(root, name) switch
    {
        null => null,
        var v when v.GetValueKind() == JsonValueKind.Number && int.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out int i) => i,
        var v => throw new SharpTuneException($"{source}: field '{name}' is {v.ToJsonString()}, expected an integer"),
    };

    private static double? Double(JsonObject root, string name, string source) => Value(root, name) switch
    {
        null => null,
        var v when v.GetValueKind() == JsonValueKind.Number => double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture),
        var v => throw new SharpTuneException($"{source}: field '{name}' is {v.ToJsonString()}, expected a number"),
    };

    private static IReadOnlyList<int> IntList(JsonObject root, string name, string source)
    {
        if (root[name] is JsonArray array)
        {
            return array.Select(item => item is JsonValue v && int.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out int i)
                ? i
                : throw new SharpTuneException($"{source}: field '{name}' holds {item?.ToJsonString()}, expected integers")).ToList();
        }

        return Int(root, name, source) is { } single ? [single] : [];
    }
}
