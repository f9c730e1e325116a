using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

/// <summary>
/// Writes a tiny Hugging Face model directory with random weights of a real architecture (config.json,
/// model.safetensors in F32 or BF16, tokenizer.json, tokenizer_config.json) and keeps the weights in memory for the
/// reference decoder. Byte-level BPE tokenizers get the llama3 or qwen2 pre-tokenizer; "spm" gives a
/// SentencePiece-style one with byte fallback.
/// </summary>
internal sealed record TinyHfModel(
    string ModelType,
    int Hidden = 256,
    int Intermediate = 512,
    int Layers = 8,
    int Heads = 4,
    int KvHeads = 2,
    int? HeadDim = null,
    int VocabSize = 320,
    bool Tied = false,
    bool AttentionBias = false,
    bool QkNorm = false,
    bool Llama3Rope = false,
    string Tokenizer = "llama3",
    string DType = "F32",
    int Seed = 1)
{
    public int HeadDimension => HeadDim ?? Hidden / Heads;

    public double RopeTheta => ModelType.StartsWith("qwen", StringComparison.Ordinal) ? 1_000_000 : 500_000;

    public const double RmsNormEps = 1e-5;

    /// <summary>The weights as written (rounded to the stored dtype), by Hugging Face name, PyTorch shape.</summary>
    public Dictionary<string, (long[] Shape, float[] Values)> Weights { get; } = new();

    public string Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(Seed);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        void Add(string name, long[] shape, float scale, float offset = 0)
        {
            var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = offset + scale * Gaussian();
                if (DType == "BF16")
                {
                    values[i] = Bf16Codec.ToFloat(Bf16Codec.FromFloat(values[i]));
                }
            }

            Weights[name] = (shape, values);
        }

        int q = Heads * HeadDimension, kv = KvHeads * HeadDimension;
        Add("model.embed_tokens.weight", [VocabSize, Hidden], 1f);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", [Hidden], 0.1f, 1f);
            Add(p + "self_attn.q_proj.weight", [q, Hidden], 0.08f);
            Add(p + "self_attn.k_proj.weight", [kv, Hidden], 0.08f);
            Add(p + "self_attn.v_proj.weight", [kv, Hidden], 0.08f);
            Add(p + "self_attn.o_proj.weight", [Hidden, q], 0.08f);
            if (AttentionBias)
            {
                Add(p + "self_attn.q_proj.bias", [q], 0.2f);
                Add(p + "self_attn.k_proj.bias", [kv], 0.2f);
                Add(p + "self_attn.v_proj.bias", [kv], 0.2f);
            }

            if (QkNorm)
            {
                Add(p + "self_attn.q_norm.weight", [HeadDimension], 0.1f, 1f);
                Add(p + "self_attn.k_norm.weight", [HeadDimension], 0.1f, 1f);
            }

            Add(p + "post_attention_layernorm.weight", [Hidden], 0.1f, 1f);
            Add(p + "mlp.gate_proj.weight", [Intermediate, Hidden], 0.08f);
            Add(p + "mlp.up_proj.weight", [Intermediate, Hidden], 0.08f);
            Add(p + "mlp.down_proj.weight", [Hidden, Intermediate], 0.06f);
        }

        Add("model.norm.weight", [Hidden], 0.1f, 1f);
        if (!Tied)
        {
            Add("lm_head.weight", [VocabSize, Hidden], 0.1f);
        }

        WriteSafetensors(Path.Combine(directory, "model.safetensors"));
        WriteConfig(Path.Combine(directory, "config.json"));
        WriteTokenizer(directory);
        return directory;
    }

    private void WriteConfig(string path)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch { "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }),
            ["model_type"] = ModelType,
            ["hidden_size"] = Hidden,
            ["intermediate_size"] = Intermediate,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["tie_word_embeddings"] = Tied,
            ["torch_dtype"] = DType == "BF16" ? "bfloat16" : "float32",
            ["bos_token_id"] = 256,
            ["eos_token_id"] = 257,
        };
        if (HeadDim is { } headDim)
        {
            config["head_dim"] = headDim;
        }

        if (AttentionBias && ModelType == "llama")
        {
            config["attention_bias"] = true;
        }

        if (Llama3Rope)
        {
            config["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
                ["original_max_position_embeddings"] = 64,
            };
        }

        File.WriteAllText(path, config.ToJsonString());
    }

    private void WriteSafetensors(string path)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        int size = DType == "BF16" ? 2 : 4;
        foreach (var (name, (shape, values)) in Weights)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = DType,
                ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + (long)values.Length * size),
            };
            offset += (long)values.Length * size;
        }

        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString()).ToList();
        while (headerBytes.Count % 8 != 0)
        {
            headerBytes.Add((byte)' ');
        }

        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)headerBytes.Count));
        file.Write(headerBytes.ToArray());
        foreach (var (_, (_, values)) in Weights)
        {
            if (DType == "BF16")
            {
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.Select(Bf16Codec.FromFloat).ToArray().AsSpan()));
            }
            else
            {
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            }
        }
    }

    /// <summary>GPT-2's byte to printable character map (byte-level BPE).</summary>
    public static string[] ByteLevelAlphabet()
    {
        var map = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
            map[b] = char.ConvertFromUtf32(printable ? b : next++);
        }

        return map;
    }

    private void WriteTokenizer(string directory)
    {
        var vocab = new JsonObject();
        var merges = new JsonArray();
        var added = new JsonArray();
        JsonObject tokenizer;
        var config = new JsonObject();
        void AddSpecial(int id, string content) => added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });

        if (Tokenizer == "spm")
        {
            vocab["<unk>"] = 0;
            vocab["<s>"] = 1;
            vocab["</s>"] = 2;
            for (int b = 0; b < 256; b++)
            {
                vocab[$"<0x{b:X2}>"] = 3 + b;
            }

            int id = 259;
            foreach (var piece in new[] { "\u2581", "t", "h", "e", "a", "o", "l", "w", "r", "d", "\u2581t", "he", "\u2581the", "ll", "\u2581he", "\u2581hello", "\u2581w", "or", "\u2581wor", "ld", "\u2581world" })
            {
                vocab[piece] = id++;
            }

            foreach (var (a, b) in new[] { ("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("l", "l"), ("\u2581", "he"), ("\u2581", "w"), ("o", "r"), ("\u2581w", "or"), ("l", "d"), ("\u2581wor", "ld") })
            {
                merges.Add($"{a} {b}");
            }

            AddSpecial(0, "<unk>");
            AddSpecial(1, "<s>");
            AddSpecial(2, "</s>");
            tokenizer = new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = added,
                ["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "Prepend", ["prepend"] = "\u2581" }, new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" }) },
                ["pre_tokenizer"] = null,
                ["post_processor"] = new JsonObject { ["type"] = "TemplateProcessing", ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } }, new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }) },
                ["decoder"] = new JsonObject { ["type"] = "Sequence", ["decoders"] = new JsonArray(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "\u2581" }, ["content"] = " " }, new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" }) },
                ["model"] = new JsonObject { ["type"] = "BPE", ["unk_token"] = "<unk>", ["byte_fallback"] = true, ["fuse_unk"] = true, ["vocab"] = vocab, ["merges"] = merges },
            };
            config["bos_token"] = "<s>";
            config["eos_token"] = "</s>";
            config["unk_token"] = "<unk>";
            config["add_bos_token"] = true;
            config["add_eos_token"] = false;
            config["chat_template"] = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";
        }
        else
        {
            var alphabet = ByteLevelAlphabet();
            for (int b = 0; b < 256; b++)
            {
                vocab[alphabet[b]] = b;
            }

            string[] specials = Tokenizer == "qwen2"
                ? ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
                : ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
            int id = 256;
            foreach (var s in specials)
            {
                AddSpecial(id++, s);
            }

            int mergeId = id;
            foreach (var (a, b) in new[] { ("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("l", "l"), ("\u0120", "w"), ("o", "r") })
            {
                vocab[a + b] = mergeId++;
                merges.Add(new JsonArray(a, b));
            }

            string regex = Tokenizer == "qwen2"
                ? @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
                : @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
            tokenizer = new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = added,
                ["normalizer"] = null,
                ["pre_tokenizer"] = new JsonObject
                {
                    ["type"] = "Sequence",
                    ["pretokenizers"] = new JsonArray(
                        new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false },
                        new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
                },
                ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
                ["model"] = new JsonObject { ["type"] = "BPE", ["ignore_merges"] = true, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = merges },
            };
            if (Tokenizer == "qwen2")
            {
                config["eos_token"] = "<|im_end|>";
                config["pad_token"] = "<|endoftext|>";
                config["add_bos_token"] = false;
                config["chat_template"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
            }
            else
            {
                config["bos_token"] = "<|begin_of_text|>";
                config["eos_token"] = "<|eot_id|>";
                config["chat_template"] = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}";
            }
        }

        var options = new JsonSerializerOptions { WriteIndented = false };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(options));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(options));
    }
}
