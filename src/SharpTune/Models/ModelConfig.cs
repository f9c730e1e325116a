using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Models.Checkpoint;

namespace SharpTune.Models;

/// <summary>
/// A model's <c>config.json</c> as the engine needs it: family, sizes, rotary settings, embedding tying, biases and
/// special token ids. Reads both the transformers 4.x form (<c>rope_theta</c>, <c>rope_scaling</c>,
/// <c>torch_dtype</c>) and the 5.x form (<c>rope_parameters</c>, <c>dtype</c>). <see cref="Raw"/> keeps every field
/// of the file for code that needs more (GGUF export).
/// </summary>
public sealed record ModelConfig
{
    public const string FileName = "config.json";

    public required ModelFamily Family { get; init; }

    /// <summary>The <c>architectures[0]</c> class name, e.g. "LlamaForCausalLM".</summary>
    public required string Architecture { get; init; }

    public required int VocabSize { get; init; }

    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int NumHiddenLayers { get; init; }

    public required int NumAttentionHeads { get; init; }

    public required int NumKeyValueHeads { get; init; }

    public required int HeadDim { get; init; }

    public int MaxPositionEmbeddings { get; init; } = 2048;

    public double RmsNormEps { get; init; } = 1e-6;

    public required RopeScaling Rope { get; init; }

    public bool TieWordEmbeddings { get; init; }

    /// <summary>Bias on the q, k and v projections (Qwen2 always; Llama/Qwen3 when <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Bias on the output projection (Llama/Qwen3 when <c>attention_bias</c>; never Qwen2/Mistral).</summary>
    public bool OutputBias { get; init; }

    /// <summary>Bias on the MLP projections (Llama <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }

    /// <summary>RMSNorm on each head of q and k before rotary embedding (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>Attention window in tokens (Mistral <c>sliding_window</c>), or null for full causal attention.</summary>
    public int? SlidingWindow { get; init; }

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    /// <summary>The dtype the checkpoint was saved in ("bfloat16", "float16", "float32"), if the config says.</summary>
    public string? TorchDtype { get; init; }

    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Every field of the file as read (empty for configs built in code).</summary>
    public JsonObject Raw { get; init; } = [];

    public int NumKeyValueGroups => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Reads <c>config.json</c> from a model directory.</summary>
    public static ModelConfig Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{directory}: no {FileName} (is this a Hugging Face model directory?)");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config JSON; <paramref name="source"/> names it in errors.</summary>
    public static ModelConfig Parse(string json, string source = FileName)
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

        var reader = new FieldReader(root, source);
        string modelType = reader.String("model_type") ?? throw new SharpTuneException($"{source}: missing field 'model_type'");
        var family = modelType switch
        {
            "llama" => ModelFamily.Llama,
            "mistral" => ModelFamily.Mistral,
            "qwen2" => ModelFamily.Qwen2,
            "qwen3" => ModelFamily.Qwen3,
            _ => throw new SharpTuneException($"{source}: model_type '{modelType}' is not supported (supported: llama, mistral, qwen2, qwen3)"),
        };

        string hiddenAct = reader.String("hidden_act") ?? "silu";
        if (hiddenAct != "silu")
        {
            throw new SharpTuneException($"{source}: hidden_act '{hiddenAct}' is not supported (only silu)");
        }

        int hidden = reader.RequiredInt("hidden_size");
        int heads = reader.RequiredInt("num_attention_heads");
        int kvHeads = reader.Int("num_key_value_heads") ?? heads;
        int headDim = reader.Int("head_dim") ?? (family == ModelFamily.Qwen3 ? 128 : hidden / heads);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new SharpTuneException($"{source}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        }

        if (headDim <= 0 || headDim % 2 != 0)
        {
            throw new SharpTuneException($"{source}: head_dim {headDim} must be even and positive");
        }

        bool attentionBias = reader.Bool("attention_bias") ?? false;
        int? slidingWindow = null;
        if (family == ModelFamily.Mistral)
        {
            slidingWindow = reader.Int("sliding_window");
        }
        else if (family is ModelFamily.Qwen2 or ModelFamily.Qwen3 && (reader.Bool("use_sliding_window") ?? false))
        {
            throw new SharpTuneException($"{source}: use_sliding_window is true, which the engine does not support for {modelType}");
        }

        var config = new ModelConfig
        {
            Family = family,
            Architecture = ReadArchitecture(root, family),
            VocabSize = reader.RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = reader.RequiredInt("intermediate_size"),
            NumHiddenLayers = reader.RequiredInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            MaxPositionEmbeddings = reader.Int("max_position_embeddings") ?? 2048,
            RmsNormEps = reader.Double("rms_norm_eps") ?? 1e-6,
            Rope = ReadRope(reader, root, source),
            TieWordEmbeddings = reader.Bool("tie_word_embeddings") ?? false,
            QkvBias = family == ModelFamily.Qwen2 || (family != ModelFamily.Mistral && attentionBias),
            OutputBias = family is ModelFamily.Llama or ModelFamily.Qwen3 && attentionBias,
            MlpBias = family == ModelFamily.Llama && (reader.Bool("mlp_bias") ?? false),
            QkNorm = family == ModelFamily.Qwen3,
            SlidingWindow = slidingWindow,
            BosTokenId = reader.Int("bos_token_id"),
            EosTokenIds = reader.IntList("eos_token_id"),
            PadTokenId = reader.Int("pad_token_id"),
            TorchDtype = reader.String("dtype") ?? reader.String("torch_dtype"),
            InitializerRange = reader.Double("initializer_range") ?? 0.02,
            Raw = root,
        };
        config.Validate(source);
        return config;
    }

    /// <summary>The HF <c>model_type</c> of <see cref="Family"/>.</summary>
    public string ModelType => Family switch
    {
        ModelFamily.Llama => "llama",
        ModelFamily.Mistral => "mistral",
        ModelFamily.Qwen2 => "qwen2",
        _ => "qwen3",
    };

    /// <summary>
    /// The config as Hugging Face <c>config.json</c> text, in the widely read 4.x form (<c>rope_theta</c>,
    /// <c>rope_scaling</c>), which transformers 5 also reads. Fields of <see cref="Raw"/> that this record does not
    /// model are kept.
    /// </summary>
    public string ToJson()
    {
        var root = (JsonObject)Raw.DeepClone();
        root.Remove("rope_parameters");
        root["architectures"] = new JsonArray(Architecture);
        root["model_type"] = ModelType;
        root["vocab_size"] = VocabSize;
        root["hidden_size"] = HiddenSize;
        root["intermediate_size"] = IntermediateSize;
        root["num_hidden_layers"] = NumHiddenLayers;
        root["num_attention_heads"] = NumAttentionHeads;
        root["num_key_value_heads"] = NumKeyValueHeads;
        root["head_dim"] = HeadDim;
        root["hidden_act"] = "silu";
        root["max_position_embeddings"] = MaxPositionEmbeddings;
        root["rms_norm_eps"] = RmsNormEps;
        root["rope_theta"] = Rope.Theta;
        root["rope_scaling"] = Rope.Type == RopeScaling.Default
            ? null
            : new JsonObject
            {
                ["rope_type"] = Rope.Type,
                ["factor"] = Rope.Factor,
                ["low_freq_factor"] = Rope.LowFreqFactor,
                ["high_freq_factor"] = Rope.HighFreqFactor,
                ["original_max_position_embeddings"] = Rope.OriginalMaxPositionEmbeddings,
            };
        root["tie_word_embeddings"] = TieWordEmbeddings;
        root["initializer_range"] = InitializerRange;
        root["use_cache"] = true;
        root["attention_dropout"] = 0.0;
        switch (Family)
        {
            case ModelFamily.Llama:
                root["attention_bias"] = QkvBias;
                root["mlp_bias"] = MlpBias;
                break;
            case ModelFamily.Mistral:
                root["sliding_window"] = SlidingWindow;
                break;
            case ModelFamily.Qwen2:
                root["use_sliding_window"] = false;
                root["sliding_window"] = null;
                root["max_window_layers"] = NumHiddenLayers;
                break;
            case ModelFamily.Qwen3:
                root["attention_bias"] = QkvBias;
                root["use_sliding_window"] = false;
                root["sliding_window"] = null;
                root["max_window_layers"] = NumHiddenLayers;
                break;
        }

        root["bos_token_id"] = BosTokenId;
        root["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(id => (JsonNode?)id).ToArray());
        if (PadTokenId is { } pad)
        {
            root["pad_token_id"] = pad;
        }

        if (TorchDtype is { } dtype)
        {
            root["torch_dtype"] = dtype;
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <c>config.json</c> into <paramref name="directory"/> atomically.</summary>
    public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), ToJson());

    private void Validate(string source)
    {
        foreach (var (name, value) in new[] { ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize), ("num_hidden_layers", NumHiddenLayers) })
        {
            if (value <= 0)
            {
                throw new SharpTuneException($"{source}: {name} must be positive, got {value}");
            }
        }

        if (SlidingWindow is <= 0)
        {
            throw new SharpTuneException($"{source}: sliding_window must be positive, got {SlidingWindow}");
        }
    }

    private static string ReadArchitecture(JsonObject root, ModelFamily family)
    {
        if (root["architectures"] is JsonArray { Count: > 0 } list && list[0] is JsonValue value && value.TryGetValue(out string? name))
        {
            return name;
        }

        return family switch
        {
            ModelFamily.Llama => "LlamaForCausalLM",
            ModelFamily.Mistral => "MistralForCausalLM",
            ModelFamily.Qwen2 => "Qwen2ForCausalLM",
            _ => "Qwen3ForCausalLM",
        };
    }

    private static RopeScaling ReadRope(FieldReader reader, JsonObject root, string source)
    {
        // transformers 5 writes rope_parameters {rope_type, rope_theta, ...}; 4.x writes rope_theta + rope_scaling.
        var parameters = root["rope_parameters"] as JsonObject ?? root["rope_scaling"] as JsonObject;
        double theta = (parameters is null ? null : new FieldReader(parameters, source).Double("rope_theta")) ?? reader.Double("rope_theta") ?? 10000.0;
        if (parameters is null)
        {
            return new RopeScaling(RopeScaling.Default, theta);
        }

        var rope = new FieldReader(parameters, source + " rope parameters");
        string type = rope.String("rope_type") ?? rope.String("type") ?? RopeScaling.Default;
        return type switch
        {
            RopeScaling.Default => new RopeScaling(RopeScaling.Default, theta),
            RopeScaling.Llama3 => new RopeScaling(
                RopeScaling.Llama3,
                theta,
                rope.Double("factor") ?? throw new SharpTuneException($"{source}: llama3 rope scaling needs 'factor'"),
                rope.Double("low_freq_factor") ?? 1.0,
                rope.Double("high_freq_factor") ?? 4.0,
                rope.Int("original_max_position_embeddings") ?? 8192),
            _ => throw new SharpTuneException($"{source}: rope type '{type}' is not supported (supported: default, llama3)"),
        };
    }

    /// <summary>Typed access to config fields with errors that name the file and field.</summary>
    private sealed class FieldReader(JsonObject root, string source)
    {
        public string? String(string name) => Value(name) switch
        {
            null => null,
            var v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            var v => throw Bad(name, v, "a string"),
        };

        public bool? Bool(string name) => Value(name) switch
        {
            null => null,
            var v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            var v => throw Bad(name, v, "true or false"),
        };

        public double? Double(string name) => Value(name) switch
        {
            null => null,
            var v when v.GetValueKind() == JsonValueKind.Number => double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture),
            var v => throw Bad(name, v, "a number"),
        };

        public int? Int(string name)
        {
            var value = Value(name);
            if (value is null)
            {
                return null;
            }

            if (value.GetValueKind() == JsonValueKind.Number && int.TryParse(value.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int result))
            {
                return result;
            }

            throw Bad(name, value, "an integer");
        }

        public int RequiredInt(string name) => Int(name) ?? throw new SharpTuneException($"{source}: missing field '{name}'");

        public IReadOnlyList<int> IntList(string name)
        {
            var node = root[name];
            if (node is JsonArray array)
            {
                return array.Select((item, i) => item is JsonValue v && v.GetValueKind() == JsonValueKind.Number
                    ? int.Parse(v.ToJsonString(), CultureInfo.InvariantCulture)
                    : throw new SharpTuneException($"{source}: field '{name}'[{i}] is not an integer")).ToList();
            }

            return Int(name) is { } single ? [single] : [];
        }

        private JsonNode? Value(string name) => root[name] is { } node && node.GetValueKind() != JsonValueKind.Null ? node : null;

        private SharpTuneException Bad(string name, JsonNode value, string expected) =>
            new($"{source}: field '{name}' is {value.ToJsonString()}, expected {expected}");
    }
}
