using System.Text.Json;

namespace SharpTune.Models.Tokenization;

/// <summary>Everything <see cref="HfTokenizer"/> needs, read and checked from <c>tokenizer.json</c> and <c>tokenizer_config.json</c>.</summary>
internal sealed class TokenizerDefinition
{
    public required TokenizerKind Kind { get; init; }
    public required Dictionary<string, int> Vocabulary { get; init; }
    public required Dictionary<string, int> TokenToId { get; init; }
    public required string[] Tokens { get; init; }
    public required string[] Merges { get; init; }
    public required AddedToken[] AddedTokens { get; init; }
    public required bool IgnoreMerges { get; init; }
    public required bool ByteFallback { get; init; }
    public required string? UnknownToken { get; init; }
    public required bool FuseUnknown { get; init; }
    public required TextNormalizer Normalizer { get; init; }
    public required WordSplitter Splitter { get; init; }
    public required TokenTextDecoder Decoder { get; init; }
    public required int[] PrefixIds { get; init; }
    public required int[] SuffixIds { get; init; }
    public required string? BosToken { get; init; }
    public required string? EosToken { get; init; }
    public required string? PadToken { get; init; }
    public required string? ChatTemplate { get; init; }

    public static TokenizerDefinition Read(string directory, TokenizerCompatibility compatibility = TokenizerCompatibility.Transformers)
    {
        string file = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(file))
        {
            throw new SharpTuneException($"{file}: not found (a Hugging Face tokenizer directory needs tokenizer.json)");
        }

        using var json = ParseJson(file);
        var root = json.RootElement;
        var model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (modelType != "BPE")
        {
            throw new SharpTuneException($"{file}: model.type '{modelType}' is not supported (only BPE)");
        }

        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 })
            {
                throw new SharpTuneException($"{file}: model.{affix} is not supported");
            }
        }

        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocabulary[entry.Name] = entry.Value.GetInt32();
        }

        var merges = new List<string>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            merges.Add(merge.ValueKind == JsonValueKind.Array
                ? merge[0].GetString() + " " + merge[1].GetString()
                : merge.GetString() ?? throw new SharpTuneException($"{file}: model.merges has a null entry"));
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedArray) && addedArray.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedArray.EnumerateArray())
            {
                added.Add(new AddedToken(
                    token.GetProperty("id").GetInt32(),
                    token.GetProperty("content").GetString() ?? "",
                    Flag(token, "special"),
                    Flag(token, "lstrip"),
                    Flag(token, "rstrip")));
            }
        }

        var tokenToId = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        foreach (var token in added)
        {
            tokenToId[token.Content] = token.Id;
        }

        int size = tokenToId.Values.DefaultIfEmpty(-1).Max() + 1;
        var tokens = new string[size];
        Array.Fill(tokens, "");
        foreach (var (token, id) in vocabulary)
        {
            tokens[id] = token;
        }

        foreach (var token in added)
        {
            tokens[token.Id] = token.Content;
        }

        var splitter = WordSplitter.Parse(Property(root, "pre_tokenizer"), file);
        var normalizer = TextNormalizer.Parse(Property(root, "normalizer"), file);
        var config = TokenizerConfig.Read(Path.Combine(directory, "tokenizer_config.json"));
        if (compatibility == TokenizerCompatibility.Transformers && !splitter.IsByteLevel && IsLlamaClass(config.TokenizerClass))
        {
            // transformers 5 rebuilds Llama-class tokenizers with a Metaspace pre-tokenizer and no normalizer.
            normalizer = TextNormalizer.None;
            splitter = WordSplitter.Metaspace();
        }

        var (prefix, suffix) = SpecialTokenTemplate(root, config, tokenToId, file);

        return new TokenizerDefinition
        {
            Kind = splitter.IsByteLevel ? TokenizerKind.ByteLevelBpe : TokenizerKind.SentencePieceBpe,
            Vocabulary = vocabulary,
            TokenToId = tokenToId,
            Tokens = tokens,
            Merges = merges.ToArray(),
            AddedTokens = added.ToArray(),
            IgnoreMerges = Flag(model, "ignore_merges"),
            ByteFallback = Flag(model, "byte_fallback"),
            UnknownToken = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null,
            FuseUnknown = Flag(model, "fuse_unk"),
            Normalizer = normalizer,
            Splitter = splitter,
            Decoder = TokenTextDecoder.Parse(Property(root, "decoder"), file),
            PrefixIds = prefix,
            SuffixIds = suffix,
            BosToken = config.BosToken,
            EosToken = config.EosToken,
            PadToken = config.PadToken,
            ChatTemplate = config.ChatTemplate,
        };
    }

    /// <summary>
    /// What <c>addSpecialTokens</c> adds: tokenizer_config.json's <c>add_bos_token</c>/<c>add_eos_token</c> where it
    /// sets them (transformers rebuilds the post-processor from them), else tokenizer.json's <c>TemplateProcessing</c>
    /// post-processor (its <c>single</c> template), else nothing.
    /// </summary>
    private static (int[] Prefix, int[] Suffix) SpecialTokenTemplate(JsonElement root, TokenizerConfig config, Dictionary<string, int> tokenToId, string file)
    {
        if (config.AddBosToken is not null || config.AddEosToken is not null)
        {
            var prefix = config.AddBosToken == true && config.BosToken is not null && tokenToId.TryGetValue(config.BosToken, out int bos) ? new[] { bos } : [];
            var suffix = config.AddEosToken == true && config.EosToken is not null && tokenToId.TryGetValue(config.EosToken, out int eos) ? new[] { eos } : [];
            return (prefix, suffix);
        }

        var processor = Property(root, "post_processor");
        if (processor.ValueKind == JsonValueKind.Object && processor.GetProperty("type").GetString() == "Sequence")
        {
            processor = processor.GetProperty("processors").EnumerateArray().FirstOrDefault(p => p.GetProperty("type").GetString() == "TemplateProcessing");
        }

        if (processor.ValueKind != JsonValueKind.Object || processor.GetProperty("type").GetString() != "TemplateProcessing")
        {
            return ([], []);
        }

        var before = new List<int>();
        var after = new List<int>();
        bool seenSequence = false;
        var specials = processor.GetProperty("special_tokens");
        foreach (var part in processor.GetProperty("single").EnumerateArray())
        {
            if (part.TryGetProperty("Sequence", out _))
            {
                seenSequence = true;
                continue;
            }

            string name = part.GetProperty("SpecialToken").GetProperty("id").GetString()!;
            if (!specials.TryGetProperty(name, out var special))
            {
                throw new SharpTuneException($"{file}: post_processor names special token '{name}' but does not define it");
            }

            foreach (var id in special.GetProperty("ids").EnumerateArray())
            {
                (seenSequence ? after : before).Add(id.GetInt32());
            }
        }

        return (before.ToArray(), after.ToArray());
    }

    private static bool IsLlamaClass(string? tokenizerClass) =>
        tokenizerClass is "LlamaTokenizer" or "LlamaTokenizerFast" or "CodeLlamaTokenizer" or "CodeLlamaTokenizerFast";

    private static JsonDocument ParseJson(string file)
    {
        try
        {
            using var stream = File.OpenRead(file);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{file}: not valid JSON ({e.Message})", e);
        }
    }

    private static JsonElement Property(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value : default;

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
