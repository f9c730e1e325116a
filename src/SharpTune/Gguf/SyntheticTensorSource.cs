namespace SharpTune.Gguf;

/// <summary>
/// Random weights in the tensor names and shapes of a Hugging Face Llama-family checkpoint, generated on the fly
/// (nothing is stored): for benchmarking export at real model sizes without the model. Values are a cheap
/// deterministic approximation of N(0, 0.02²) per element index.
/// </summary>
public sealed class SyntheticTensorSource : IHfTensorSource
{
    private readonly Dictionary<string, long[]> _shapes = new(StringComparer.Ordinal);

    public SyntheticTensorSource(HfModelHyperparameters config)
    {
        int q = config.HeadCount * config.HeadDim, kv = config.KeyValueHeadCount * config.HeadDim;
        _shapes["model.embed_tokens.weight"] = [config.VocabSize, config.HiddenSize];
        for (int l = 0; l < config.LayerCount; l++)
        {
            string p = $"model.layers.{l}.";
            _shapes[p + "input_layernorm.weight"] = [config.HiddenSize];
            _shapes[p + "self_attn.q_proj.weight"] = [q, config.HiddenSize];
            _shapes[p + "self_attn.k_proj.weight"] = [kv, config.HiddenSize];
            _shapes[p + "self_attn.v_proj.weight"] = [kv, config.HiddenSize];
            _shapes[p + "self_attn.o_proj.weight"] = [config.HiddenSize, q];
            _shapes[p + "post_attention_layernorm.weight"] = [config.HiddenSize];
            _shapes[p + "mlp.gate_proj.weight"] = [config.IntermediateSize, config.HiddenSize];
            _shapes[p + "mlp.up_proj.weight"] = [config.IntermediateSize, config.HiddenSize];
            _shapes[p + "mlp.down_proj.weight"] = [config.HiddenSize, config.IntermediateSize];
        }

        _shapes["model.norm.weight"] = [config.HiddenSize];
        if (!config.TieWordEmbeddings)
        {
            _shapes["lm_head.weight"] = [config.VocabSize, config.HiddenSize];
        }
    }

    /// <summary>The hyperparameters of Llama-3-8B (and DeepSeek-R1-Distill-Llama-8B), optionally with fewer layers.</summary>
    public static HfModelHyperparameters Llama3_8B(int layers = 32) => new()
    {
        ModelType = "llama",
        HiddenSize = 4096,
        IntermediateSize = 14336,
        LayerCount = layers,
        HeadCount = 32,
        KeyValueHeadCount = 8,
        HeadDim = 128,
        VocabSize = 128256,
        ContextLength = 131072,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        TieWordEmbeddings = false,
        Llama3Rope = new Llama3RopeScaling(8, 1, 4, 8192),
        BosTokenId = 128000,
        EosTokenId = 128001,
    };

    /// <summary>A placeholder byte-level vocabulary of <paramref name="size"/> tokens (benchmarks only).</summary>
    public static GgufVocabulary PlaceholderVocabulary(int size) => new()
    {
        Model = "gpt2",
        Pre = "llama-bpe",
        Tokens = Enumerable.Range(0, size).Select(i => $"<t{i}>").ToArray(),
        TokenTypes = Enumerable.Repeat(GgufTokenType.Normal, size).ToArray(),
        Merges = [],
        BosTokenId = 0,
        EosTokenId = 1,
    };

    public string Description => "synthetic weights";

    public IReadOnlyCollection<string> Names => _shapes.Keys;

    public (IReadOnlyList<long> Shape, string DType) Describe(string name) => (_shapes[name], "BF16");

    public void ReadFloat32(string name, long firstElement, Span<float> destination)
    {
        ulong seed = (ulong)name.GetHashCode(StringComparison.Ordinal) * 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < destination.Length; i++)
        {
            ulong z = seed + (ulong)(firstElement + i) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 31)) * 0x94D049BB133111EBUL;
            z ^= z >> 29;
            // Sum of four uniform bytes minus their mean: roughly Gaussian, cheap.
            int sum = (int)(z & 0xFF) + (int)((z >> 8) & 0xFF) + (int)((z >> 16) & 0xFF) + (int)((z >> 24) & 0xFF);
            destination[i] = (sum - 510) * (0.02f / 147.8f);
        }
    }

    public void Dispose()
    {
    }
}
