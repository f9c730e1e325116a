using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpTune.Gguf;

/// <summary>
/// A Hugging Face tokenizer (<c>tokenizer.json</c> + <c>tokenizer_config.json</c>) as llama.cpp's
/// <c>tokenizer.ggml.*</c> metadata, the way convert_hf_to_gguf.py writes it: byte-level BPE becomes model "gpt2" with
/// a pre-tokenizer name recognised from its split regex, SentencePiece-style BPE (byte fallback) becomes model "llama";
/// tokens padded to the config's vocab size; special tokens from tokenizer_config.json, then config.json.
/// </summary>
public sealed partial class GgufVocabulary
{
    /// <summary>Pre-tokenizer split regexes llama.cpp knows, by the name it knows them under.</summary>
    private static readonly (string Name, string Regex)[] PreTokenizers =
    [
        ("llama-bpe", @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
        ("qwen2", @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
    ];

    public required string Model { get; init; }
    public required string Pre { get; init; }
    public required IReadOnlyList<string> Tokens { get; init; }
    public required IReadOnlyList<GgufTokenType> TokenTypes { get; init; }
    public IReadOnlyList<float>? Scores { get; init; }
    public IReadOnlyList<string>? Merges { get; init; }
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? UnknownTokenId { get; init; }
    public int? PaddingTokenId { get; init; }
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }
    public string? ChatTemplate { get; init; }

    public static GgufVocabulary Load(string modelDirectory, HfModelHyperparameters config)
    {
        string tokenizerPath = Path.Combine(modelDirectory, "tokenizer.json");
        string configPath = Path.Combine(modelDirectory, "tokenizer_config.json");
        var tokenizer = ReadJson(tokenizerPath, required: true)!;
        var tokenizerConfig = ReadJson(configPath, required: false) ?? new JsonObject();

        var model = tokenizer["model"] as JsonObject ?? throw new SharpTuneException($"{tokenizerPath}: 'model' is missing");
        string modelType = model["type"]?.GetValue<string>() ?? "";
        if (modelType != "BPE")
        {
            throw new SharpTuneException($"{tokenizerPath}: tokenizer model '{modelType}' is not supported for GGUF export (BPE is)");
        }

        var vocab = model["vocab"] as JsonObject ?? throw new SharpTuneException($"{tokenizerPath}: 'model.vocab' is missing");
        var idToToken = new Dictionary<int, string>();
        foreach (var (token, id) in vocab)
        {
            idToToken[id!.GetValue<int>()] = token;
        }

        var added = new Dictionary<int, (string Content, bool Special)>();
        if (tokenizer["added_tokens"] is JsonArray addedTokens)
        {
            foreach (var entry in addedTokens.OfType<JsonObject>())
            {
                int id = entry["id"]!.GetValue<int>();
                string content = entry["content"]!.GetValue<string>();
                added[id] = (content, entry["special"]?.GetValue<bool>() ?? false);
                idToToken[id] = content;
            }
        }

        int vocabSize = Math.Max(config.VocabSize, idToToken.Count == 0 ? 0 : idToToken.Keys.Max() + 1);
        bool byteLevel = ContainsType(tokenizer["pre_tokenizer"], "ByteLevel") || ContainsType(tokenizer["decoder"], "ByteLevel");
        var contentToId = idToToken.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.Min(kv => kv.Key));

        int? SpecialId(string key)
        {
            string? content = tokenizerConfig[key] switch
            {
                JsonValue v when v.TryGetValue(out string? s) => s,
                JsonObject o => o["content"]?.GetValue<string>(),
                _ => null,
            };
            return content is not null && contentToId.TryGetValue(content, out int id) ? id : null;
        }

        var (templateBos, templateEos) = PostProcessorSpecials(tokenizer["post_processor"], contentToId);
        int? bos = SpecialId("bos_token") ?? config.BosTokenId;
        int? eos = SpecialId("eos_token") ?? config.EosTokenId;
        bool? addBos = tokenizerConfig["add_bos_token"] is JsonValue ab && ab.TryGetValue(out bool addBosValue) ? addBosValue
            : templateBos is { } tb && bos == tb ? true : null;
        bool? addEos = tokenizerConfig["add_eos_token"] is JsonValue ae && ae.TryGetValue(out bool addEosValue) ? addEosValue
            : templateEos is { } te && eos == te ? true : null;
        string? chatTemplate = tokenizerConfig["chat_template"] switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonArray list => list.OfType<JsonObject>().FirstOrDefault(t => t["name"]?.GetValue<string>() == "default")?["template"]?.GetValue<string>(),
            _ => null,
        };
        if (chatTemplate is null && File.Exists(Path.Combine(modelDirectory, "chat_template.jinja")))
        {
            chatTemplate = File.ReadAllText(Path.Combine(modelDirectory, "chat_template.jinja"));
        }

        var merges = ReadMerges(model["merges"], tokenizerPath);
        var tokens = new string[vocabSize];
        var types = new GgufTokenType[vocabSize];
        if (byteLevel)
        {
            for (int i = 0; i < vocabSize; i++)
            {
                if (!idToToken.TryGetValue(i, out var token))
                {
                    tokens[i] = $"[PAD{i}]";
                    types[i] = GgufTokenType.Unused;
                }
                else if (added.TryGetValue(i, out var a))
                {
                    tokens[i] = token;
                    types[i] = a.Special || LooksSpecial(token) ? GgufTokenType.Control : GgufTokenType.UserDefined;
                }
                else
                {
                    tokens[i] = token;
                    types[i] = GgufTokenType.Normal;
                }
            }

            return new GgufVocabulary
            {
                Model = "gpt2",
                Pre = RecognisePreTokenizer(tokenizer["pre_tokenizer"], tokenizerPath),
                Tokens = tokens,
                TokenTypes = types,
                Merges = merges,
                BosTokenId = bos,
                EosTokenId = eos,
                UnknownTokenId = SpecialId("unk_token"),
                PaddingTokenId = SpecialId("pad_token") ?? config.PadTokenId,
                AddBosToken = addBos,
                AddEosToken = addEos,
                ChatTemplate = chatTemplate,
            };
        }

        if (model["byte_fallback"]?.GetValue<bool>() != true)
        {
            throw new SharpTuneException($"{tokenizerPath}: a BPE tokenizer that is neither byte-level nor SentencePiece-style (byte_fallback) is not supported for GGUF export");
        }

        // SentencePiece-style: llama.cpp merges the adjacent pair whose merged token scores highest; tokens made by an
        // earlier merge rank higher, so the score is minus the token's merge rank.
        var mergeRank = new Dictionary<string, int>();
        for (int r = 0; r < merges.Count; r++)
        {
            int space = merges[r].IndexOf(' ', StringComparison.Ordinal);
            mergeRank.TryAdd(merges[r][..space] + merges[r][(space + 1)..], r);
        }

        int? unk = SpecialId("unk_token") ?? (model["unk_token"]?.GetValue<string>() is { } unkToken && contentToId.TryGetValue(unkToken, out int u) ? u : null);
        var scores = new float[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            if (!idToToken.TryGetValue(i, out var token))
            {
                tokens[i] = $"[PAD{i}]";
                types[i] = GgufTokenType.Unused;
                continue;
            }

            tokens[i] = token;
            if (i == unk)
            {
                types[i] = GgufTokenType.Unknown;
            }
            else if (ByteToken().IsMatch(token))
            {
                types[i] = GgufTokenType.Byte;
            }
            else if (added.TryGetValue(i, out var a))
            {
                types[i] = a.Special || i == bos || i == eos ? GgufTokenType.Control : GgufTokenType.UserDefined;
            }
            else
            {
                types[i] = GgufTokenType.Normal;
                scores[i] = mergeRank.TryGetValue(token, out int rank) ? -rank : 0;
            }
        }

        return new GgufVocabulary
        {
            Model = "llama",
            Pre = "default",
            Tokens = tokens,
            TokenTypes = types,
            Scores = scores,
            BosTokenId = bos,
            EosTokenId = eos,
            UnknownTokenId = unk,
            PaddingTokenId = SpecialId("pad_token") ?? config.PadTokenId,
            AddBosToken = addBos,
            AddEosToken = addEos,
            ChatTemplate = chatTemplate,
        };
    }

    /// <summary>The <c>tokenizer.ggml.*</c> metadata entries, in convert_hf_to_gguf.py's order.</summary>
    public IEnumerable<KeyValuePair<string, GgufValue>> Metadata()
    {
        yield return new("tokenizer.ggml.model", GgufValue.String(Model));
        yield return new("tokenizer.ggml.pre", GgufValue.String(Pre));
        yield return new("tokenizer.ggml.tokens", GgufValue.StringArray(Tokens));
        if (Scores is not null)
        {
            yield return new("tokenizer.ggml.scores", GgufValue.Float32Array(Scores));
        }

        yield return new("tokenizer.ggml.token_type", GgufValue.Int32Array(TokenTypes.Select(t => (int)t)));
        if (Merges is { Count: > 0 } && Model == "gpt2")
        {
            yield return new("tokenizer.ggml.merges", GgufValue.StringArray(Merges));
        }

        foreach (var (key, id) in new[] { ("bos", BosTokenId), ("eos", EosTokenId), ("unknown", UnknownTokenId), ("padding", PaddingTokenId) })
        {
            if (id is { } value && value >= 0 && value < Tokens.Count)
            {
                yield return new($"tokenizer.ggml.{key}_token_id", GgufValue.UInt32((uint)value));
            }
        }

        if (AddBosToken is { } addBos)
        {
            yield return new("tokenizer.ggml.add_bos_token", GgufValue.Bool(addBos));
        }

        if (AddEosToken is { } addEos)
        {
            yield return new("tokenizer.ggml.add_eos_token", GgufValue.Bool(addEos));
        }

        if (ChatTemplate is not null)
        {
            yield return new("tokenizer.chat_template", GgufValue.String(ChatTemplate));
        }
    }

    /// <summary>convert_hf_to_gguf.py's does_token_look_special, for added tokens not marked special.</summary>
    private static bool LooksSpecial(string token) =>
        token is "<pad>" or "<mask>" || (token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal))
        || (token.StartsWith("<\uff5c", StringComparison.Ordinal) && token.EndsWith("\uff5c>", StringComparison.Ordinal));

    private static string RecognisePreTokenizer(JsonNode? preTokenizer, string path)
    {
        var patterns = new List<string>();
        CollectRegexes(preTokenizer, patterns);
        foreach (var pattern in patterns)
        {
            foreach (var (name, regex) in PreTokenizers)
            {
                if (pattern == regex)
                {
                    return name;
                }
            }
        }

        throw new SharpTuneException($"{path}: pre-tokenizer split regex {(patterns.Count == 0 ? "(none)" : patterns[0])} is not one llama.cpp knows; supported: {string.Join(", ", PreTokenizers.Select(p => p.Name))}");
    }

    private static void CollectRegexes(JsonNode? node, List<string> patterns)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["type"]?.GetValue<string>() == "Split" && o["pattern"]?["Regex"]?.GetValue<string>() is { } regex)
                {
                    patterns.Add(regex);
                }

                foreach (var (_, child) in o)
                {
                    CollectRegexes(child, patterns);
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    CollectRegexes(child, patterns);
                }

                break;
        }
    }

    private static bool ContainsType(JsonNode? node, string type) => node switch
    {
        JsonObject o => o["type"]?.GetValue<string>() == type || o.Any(kv => ContainsType(kv.Value, type)),
        JsonArray a => a.Any(child => ContainsType(child, type)),
        _ => false,
    };

    /// <summary>The special tokens a TemplateProcessing post-processor puts first and last around a single sequence.</summary>
    private static (int? First, int? Last) PostProcessorSpecials(JsonNode? node, Dictionary<string, int> contentToId)
    {
        if (node is JsonObject o && o["type"]?.GetValue<string>() == "Sequence" && o["processors"] is JsonArray processors)
        {
            foreach (var p in processors)
            {
                var result = PostProcessorSpecials(p, contentToId);
                if (result != (null, null))
                {
                    return result;
                }
            }
        }

        if (node is not JsonObject template || template["type"]?.GetValue<string>() != "TemplateProcessing" || template["single"] is not JsonArray single || single.Count == 0)
        {
            return (null, null);
        }

        int? Special(JsonNode? item) => item?["SpecialToken"]?["id"]?.GetValue<string>() is { } content && contentToId.TryGetValue(content, out int id) ? id : null;
        return (Special(single[0]), single.Count > 1 ? Special(single[^1]) : null);
    }

    private static List<string> ReadMerges(JsonNode? node, string path)
    {
        var merges = new List<string>();
        if (node is not JsonArray array)
        {
            return merges;
        }

        foreach (var item in array)
        {
            switch (item)
            {
                case JsonValue v when v.TryGetValue(out string? s):
                    merges.Add(s);
                    break;
                case JsonArray { Count: 2 } pair:
                    merges.Add(pair[0]!.GetValue<string>() + " " + pair[1]!.GetValue<string>());
                    break;
                default:
                    throw new SharpTuneException($"{path}: a merge is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }

        return merges;
    }

    private static JsonObject? ReadJson(string path, bool required)
    {
        if (!File.Exists(path))
        {
            return required ? throw new SharpTuneException($"{path}: not found; GGUF export needs the model's tokenizer") : null;
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new SharpTuneException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{path}: invalid JSON: {e.Message}", e);
        }
    }

    [GeneratedRegex("^<0x[0-9A-Fa-f]{2}>$")]
    private static partial Regex ByteToken();
}
