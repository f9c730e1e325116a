using SharpTune.Models;

namespace SharpTune.Benchmarks;

/// <summary>
/// The shapes of the models <c>sharptune bench</c> can build, as published in each model's <c>config.json</c>
/// (hidden size, layers, heads, kv heads, intermediate size, vocabulary, rope, tying, biases). Weights are random.
/// </summary>
public static class BenchmarkModels
{
    public static IReadOnlyList<string> Names { get; } = ["llama3-8b", "llama3.2-1b", "llama3.2-3b", "qwen2.5-7b"];

    /// <summary>The config of a named model; throws naming the known ones.</summary>
    public static ModelConfig Config(string name) => name switch
    {
        // meta-llama/Llama-3.1-8B (= DeepSeek-R1-Distill-Llama-8B's shapes)
        "llama3-8b" => Llama(4096, 14336, 32, 32, 8, tied: false, ropeFactor: 8.0),
        // meta-llama/Llama-3.2-1B
        "llama3.2-1b" => Llama(2048, 8192, 16, 32, 8, tied: true, ropeFactor: 32.0),
        // meta-llama/Llama-3.2-3B
        "llama3.2-3b" => Llama(3072, 8192, 28, 24, 8, tied: true, ropeFactor: 32.0),
        // Qwen/Qwen2.5-7B
        "qwen2.5-7b" => new ModelConfig
        {
            Family = ModelFamily.Qwen2,
            Architecture = "Qwen2ForCausalLM",
            VocabSize = 152064,
            HiddenSize = 3584,
            IntermediateSize = 18944,
            NumHiddenLayers = 28,
            NumAttentionHeads = 28,
            NumKeyValueHeads = 4,
            HeadDim = 128,
            MaxPositionEmbeddings = 131072,
            RmsNormEps = 1e-6,
            Rope = new RopeScaling(RopeScaling.Default, 1000000.0),
            TieWordEmbeddings = false,
            QkvBias = true,
            BosTokenId = 151643,
            EosTokenIds = [151643],
        },
        _ => throw new SharpTuneException($"bench: unknown model '{name}' (known: {string.Join(", ", Names)})"),
    };

    /// <summary>Dense parameters of a config (embedding, every projection, norms, and the LM head unless tied).</summary>
    public static long DenseParameters(ModelConfig c)
    {
        long attention = (long)c.HiddenSize * c.HeadDim * (2 * c.NumAttentionHeads + 2 * c.NumKeyValueHeads)
            + (c.QkvBias ? (long)c.HeadDim * (c.NumAttentionHeads + 2 * c.NumKeyValueHeads) : 0);
        long mlp = 3L * c.HiddenSize * c.IntermediateSize;
        long embedding = (long)c.VocabSize * c.HiddenSize;
        return c.NumHiddenLayers * (attention + mlp + 2L * c.HiddenSize) + embedding * (c.TieWordEmbeddings ? 1 : 2) + c.HiddenSize;
    }

    private static ModelConfig Llama(int hidden, int intermediate, int layers, int heads, int kvHeads, bool tied, double ropeFactor) => new()
    {
        Family = ModelFamily.Llama,
        Architecture = "LlamaForCausalLM",
        VocabSize = 128256,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        MaxPositionEmbeddings = 131072,
        RmsNormEps = 1e-5,
        Rope = new RopeScaling(RopeScaling.Llama3, 500000.0, Factor: ropeFactor, LowFreqFactor: 1.0, HighFreqFactor: 4.0, OriginalMaxPositionEmbeddings: 8192),
        TieWordEmbeddings = tied,
        BosTokenId = 128000,
        EosTokenIds = [128001],
    };
}
