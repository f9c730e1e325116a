using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Gguf;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> that GGUF export needs. Reads both the transformers 4 layout
/// (<c>rope_theta</c>, <c>rope_scaling</c>) and the transformers 5 one (<c>rope_parameters</c>).
/// </summary>
public sealed record HfModelHyperparameters
{
    public required string ModelType { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KeyValueHeadCount { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public required bool TieWordEmbeddings { get; init; }

    /// <summary>The llama3 rope scaling parameters, when the model uses them.</summary>
    public Llama3RopeScaling? Llama3Rope { get; init; }

    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? PadTokenId { get; init; }

    public static HfModelHyperparameters Load(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: not found; a Hugging Face model directory needs config.json");
        }

        JsonObject config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new SharpTuneException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{path}: invalid JSON: {e.Message}", e);
        }

        // Text configs of multimodal checkpoints sit under text_config.
        if (config["text_config"] is JsonObject text && config["hidden_size"] is null)
        {
            config = text;
        }

        int Int(string key, int? fallback = null) => config[key] is JsonValue v && v.TryGetValue(out int i) ? i
            : fallback ?? throw new SharpTuneException($"{path}: '{key}' is missing or not an integer");
        double Double(JsonNode? node, double fallback) => node is JsonValue v && v.TryGetValue(out double d) ? d : fallback;
        int? FirstId(JsonNode? node) => node switch
        {
            JsonValue v when v.TryGetValue(out int i) => i,
            JsonArray { Count: > 0 } a when a[0] is JsonValue v0 && v0.TryGetValue(out int i0) => i0,
            _ => null,
        };

        string modelType = config["model_type"]?.GetValue<string>() ?? throw new SharpTuneException($"{path}: 'model_type' is missing");
        int hidden = Int("hidden_size");
        int heads = Int("num_attention_heads");
        var ropeParameters = config["rope_parameters"] as JsonObject;
        var ropeScaling = config["rope_scaling"] as JsonObject ?? ropeParameters;
        double ropeTheta = Double(config["rope_theta"] ?? ropeParameters?["rope_theta"], 10000.0);
        Llama3RopeScaling? llama3 = null;
        string? ropeType = (ropeScaling?["rope_type"] ?? ropeScaling?["type"])?.GetValue<string>();
        if (string.Equals(ropeType, "llama3", StringComparison.OrdinalIgnoreCase))
        {
            llama3 = new Llama3RopeScaling(
                Factor: Double(ropeScaling!["factor"], 8.0),
                LowFreqFactor: Double(ropeScaling["low_freq_factor"], 1.0),
                HighFreqFactor: Double(ropeScaling["high_freq_factor"], 4.0),
                OriginalContextLength: (int)Double(ropeScaling["original_max_position_embeddings"] ?? config["original_max_position_embeddings"], 8192));
        }
        else if (ropeType is not (null or "default"))
        {
            throw new SharpTuneException($"{path}: rope scaling type '{ropeType}' is not supported for GGUF export (default and llama3 are)");
        }

        return new HfModelHyperparameters
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = Int("intermediate_size"),
            LayerCount = Int("num_hidden_layers"),
            HeadCount = heads,
            KeyValueHeadCount = Int("num_key_value_heads", heads),
            HeadDim = config["head_dim"] is JsonValue hd && hd.TryGetValue(out int headDim) ? headDim : hidden / heads,
            VocabSize = Int("vocab_size"),
            ContextLength = Int("max_position_embeddings", 4096),
            RmsNormEps = Double(config["rms_norm_eps"], 1e-6),
            RopeTheta = ropeTheta,
            TieWordEmbeddings = config["tie_word_embeddings"] is JsonValue t && t.TryGetValue(out bool tie) && tie,
            Llama3Rope = llama3,
            BosTokenId = FirstId(config["bos_token_id"]),
            EosTokenId = FirstId(config["eos_token_id"]),
            PadTokenId = FirstId(config["pad_token_id"]),
        };
    }
}
