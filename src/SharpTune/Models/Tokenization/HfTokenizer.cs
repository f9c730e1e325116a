using System.Text.Json;

namespace SharpTune.Models.Tokenization;

/// <summary>
/// A Hugging Face tokenizer read from <c>tokenizer.json</c> and <c>tokenizer_config.json</c>: byte-level BPE
/// (Llama 3, Qwen2/3, DeepSeek-R1-Distill) or SentencePiece-style BPE (Llama 2, Mistral), with added and special
/// tokens recognised in text, and BOS/EOS added as the files say. Token ids equal Hugging Face <c>tokenizers</c>'
/// (transformers' by default, or the tokenizers library's; see <see cref="TokenizerCompatibility"/>; checked against both by tests/oracles/tokenizer_ids.py).
/// </summary>
public sealed class HfTokenizer
{
    private static readonly string[] EndOfTurnTokens = ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>"];

    private readonly AddedTokenSplitter _addedTokens;
    private readonly TextNormalizer _normalizer;
    private readonly WordSplitter _splitter;
    private readonly BpeWordEncoder _bpe;
    private readonly TokenTextDecoder _decoder;
    private readonly HashSet<int> _specialIds;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;
    private readonly Dictionary<string, int> _tokenToId;

    private HfTokenizer(TokenizerDefinition definition)
    {
        Kind = definition.Kind;
        Tokens = definition.Tokens;
        Merges = definition.Merges;
        AddedTokens = definition.AddedTokens;
        ChatTemplate = definition.ChatTemplate;
        BosToken = definition.BosToken;
        EosToken = definition.EosToken;
        PadToken = definition.PadToken;
        _tokenToId = definition.TokenToId;
        _addedTokens = new AddedTokenSplitter(definition.AddedTokens);
        _normalizer = definition.Normalizer;
        _splitter = definition.Splitter;
        _decoder = definition.Decoder;
        _bpe = new BpeWordEncoder(definition.Vocabulary, definition.Merges, definition.IgnoreMerges, definition.ByteFallback, definition.UnknownToken, definition.FuseUnknown);
        _specialIds = definition.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        _prefixIds = definition.PrefixIds;
        _suffixIds = definition.SuffixIds;
        BosTokenId = TokenToId(BosToken);
        PadTokenId = TokenToId(PadToken);
        var eos = new List<int>();
        foreach (var name in new[] { EosToken }.Concat(EndOfTurnTokens))
        {
            if (TokenToId(name) is int id && !eos.Contains(id))
            {
                eos.Add(id);
            }
        }

        EosTokenIds = eos;
    }

    public TokenizerKind Kind { get; }

    /// <summary>Token strings by id (vocabulary and added tokens); ids nothing names are empty strings.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>The BPE merges in ranked order, each as "left right".</summary>
    public IReadOnlyList<string> Merges { get; }

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    public int VocabSize => Tokens.Count;

    /// <summary>The Jinja chat template of <c>tokenizer_config.json</c>, or null.</summary>
    public string? ChatTemplate { get; }

    public string? BosToken { get; }

    public string? EosToken { get; }

    public string? PadToken { get; }

    public int? BosTokenId { get; }

    /// <summary>The configured EOS first, then the other end-of-text/end-of-turn markers the vocabulary has (generation stops at any).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    public int? PadTokenId { get; }

    /// <summary>The ids added around a sequence when <c>addSpecialTokens</c> is true (e.g. [BOS] for Llama 2).</summary>
    public IReadOnlyList<int> PrefixIds => _prefixIds;

    public IReadOnlyList<int> SuffixIds => _suffixIds;

    /// <summary>
    /// Reads <c>tokenizer.json</c> and <c>tokenizer_config.json</c> (optional) from <paramref name="directory"/>,
    /// encoding as transformers' AutoTokenizer does unless <paramref name="compatibility"/> says otherwise.
    /// </summary>
    public static HfTokenizer Load(string directory, TokenizerCompatibility compatibility = TokenizerCompatibility.Transformers) =>
        new(TokenizerDefinition.Read(directory, compatibility));

    public int? TokenToId(string? token) => token is not null && _tokenToId.TryGetValue(token, out int id) ? id : null;

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens)
        {
            ids.AddRange(_prefixIds);
        }

        var words = new List<string>();
        bool first = true;
        foreach (var piece in _addedTokens.Split(text))
        {
            if (piece.IsAddedToken)
            {
                ids.Add(piece.TokenId);
                first = false;
                continue;
            }

            string section = text.Substring(piece.Start, piece.Length);
            if (!_normalizer.IsEmpty)
            {
                section = _normalizer.Apply(section);
            }

            words.Clear();
            _splitter.Split(section, first, words);
            foreach (var word in words)
            {
                _bpe.Encode(word, ids);
            }

            first = false;
        }

        if (addSpecialTokens)
        {
            ids.AddRange(_suffixIds);
        }

        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= Tokens.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (size {Tokens.Count})");
            }

            if (skipSpecialTokens && _specialIds.Contains(id))
            {
                continue;
            }

            tokens.Add(Tokens[id]);
        }

        return _decoder.Decode(tokens);
    }
}
