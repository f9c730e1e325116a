using SharpTune.Models.Layers;
using SharpTune.Progress;
using static TorchSharp.torch;

namespace SharpTune.Models;

/// <summary>What <see cref="TinyModelFactory.Create"/> makes.</summary>
/// <param name="Family">The architecture.</param>
/// <param name="Size">Tiny (CPU tests) or small (~20-50M parameters).</param>
/// <param name="Seed">Seed of the random weights.</param>
/// <param name="TokenizerDirectory">A HF tokenizer directory to copy; default: the family's reference tokenizer (see <see cref="TokenizerLocator"/>).</param>
/// <param name="TieWordEmbeddings">Share embedding and lm_head; default: false for llama/mistral, true for qwen (as their small releases).</param>
/// <param name="DType">Element type of the saved weights.</param>
/// <param name="Shape">A full-size architecture (e.g. a benchmark shape) to use instead of <paramref name="Size"/>; its
/// special tokens come from the tokenizer, and its vocabulary must hold the tokenizer's.</param>
public sealed record TinyModelOptions(
    ModelFamily Family,
    TinyModelSize Size = TinyModelSize.Tiny,
    long Seed = 0,
    string? TokenizerDirectory = null,
    bool? TieWordEmbeddings = null,
    ScalarType DType = ScalarType.BFloat16,
    ModelConfig? Shape = null);

/// <summary>
/// Makes complete Hugging Face model directories with real architectures, real tokenizers and seeded random
/// weights (HF init: matrices normal with std 0.02, norms 1, biases 0), for tests and demos where no real
/// weights can be downloaded.
/// </summary>
public static class TinyModelFactory
{
    /// <summary>The reference tokenizer of a family: llama3 for llama/mistral (the DeepSeek-R1-Distill-Llama vocabulary), qwen3 for qwen2/qwen3.</summary>
    public static string DefaultTokenizerName(ModelFamily family) => family is ModelFamily.Qwen2 or ModelFamily.Qwen3 ? "qwen3" : "llama3";

    /// <summary>The config of a tiny or small model of <paramref name="family"/> with the given vocabulary and special tokens.</summary>
    public static ModelConfig Config(ModelFamily family, TinyModelSize size, int vocabSize, int? bosTokenId, IReadOnlyList<int> eosTokenIds, bool? tieWordEmbeddings = null, int? padTokenId = null)
    {
        var (hidden, intermediate, layers, heads, kvHeads) = size == TinyModelSize.Tiny ? (64, 128, 2, 4, 2) : (256, 688, 4, 8, 4);
        bool qwen = family is ModelFamily.Qwen2 or ModelFamily.Qwen3;
        return new ModelConfig
        {
            Family = family,
            Architecture = family switch
            {
                ModelFamily.Llama => "LlamaForCausalLM",
                ModelFamily.Mistral => "MistralForCausalLM",
                ModelFamily.Qwen2 => "Qwen2ForCausalLM",
                _ => "Qwen3ForCausalLM",
            },
            VocabSize = vocabSize,
            HiddenSize = hidden,
            IntermediateSize = intermediate,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = hidden / heads,
            MaxPositionEmbeddings = 4096,
            RmsNormEps = qwen ? 1e-6 : 1e-5,
            Rope = family switch
            {
                ModelFamily.Llama => new RopeScaling(RopeScaling.Llama3, 500000.0, Factor: 32.0, LowFreqFactor: 1.0, HighFreqFactor: 4.0, OriginalMaxPositionEmbeddings: 8192),
                ModelFamily.Mistral => new RopeScaling(RopeScaling.Default, 1000000.0),
                _ => new RopeScaling(RopeScaling.Default, 1000000.0),
            },
            TieWordEmbeddings = tieWordEmbeddings ?? qwen,
            QkvBias = family == ModelFamily.Qwen2,
            QkNorm = family == ModelFamily.Qwen3,
            SlidingWindow = family == ModelFamily.Mistral ? 4096 : null,
            BosTokenId = bosTokenId,
            EosTokenIds = eosTokenIds,
            PadTokenId = padTokenId,
        };
    }

    /// <summary>HF-style seeded initialization: matrices ~ N(0, std), norm scales 1, biases 0; drawn in float32 on the CPU, then converted.</summary>
    public static WeightSource RandomWeights(long seed, double std, ScalarType dtype, Device device)
    {
        var generator = new Generator((ulong)seed);
        return (name, shape, role) =>
        {
            using var scope = NewDisposeScope();
            var value = role switch
            {
                WeightRole.Matrix => randn(shape, ScalarType.Float32, CPU, generator: generator).mul_(std),
                WeightRole.Bias => zeros(shape, ScalarType.Float32),
                _ => ones(shape, ScalarType.Float32),
            };
            return CausalLM.AsParameter(value.to(dtype, device).MoveToOuterDisposeScope());
        };
    }

    /// <summary>A randomly initialized model in memory.</summary>
    public static CausalLM CreateModel(ModelConfig config, long seed, ScalarType dtype, Device device) =>
        CausalLM.Create(config, dtype, device, RandomWeights(seed, config.InitializerRange, dtype, device));

    /// <summary>
    /// Writes a complete model directory to <paramref name="outputDirectory"/>: config.json, generation_config.json,
    /// model.safetensors, and the tokenizer files. Returns the config written.
    /// </summary>
    public static ModelConfig Create(string outputDirectory, TinyModelOptions options, IProgress<OperationProgress>? progress = null)
    {
        string tokenizer = TokenizerLocator.Find(DefaultTokenizerName(options.Family), options.TokenizerDirectory);
        var special = TokenizerSpecialTokens.Read(tokenizer);
        int vocab = (special.VocabularySize + 63) / 64 * 64;
        int[] eos = special.EosTokenId is { } e ? [e] : [];
        var config = options.Shape is { } shape
            ? shape with
            {
                BosTokenId = special.BosTokenId,
                EosTokenIds = eos,
                PadTokenId = special.PadTokenId,
                TieWordEmbeddings = options.TieWordEmbeddings ?? shape.TieWordEmbeddings,
                TorchDtype = CausalLM.DTypeName(options.DType),
            }
            : Config(options.Family, options.Size, vocab, special.BosTokenId, eos, options.TieWordEmbeddings, special.PadTokenId)
                with { TorchDtype = CausalLM.DTypeName(options.DType) };
        if (config.VocabSize < special.VocabularySize)
        {
            throw new SharpTuneException($"init-model: the shape's vocabulary ({config.VocabSize}) is smaller than the tokenizer's ({special.VocabularySize}) in {tokenizer}");
        }


        progress?.Report(new OperationProgress("init-model", 0, 3, "step", "weights"));
        Directory.CreateDirectory(outputDirectory);
        using (var model = CreateModel(config, options.Seed, options.DType, CPU))
        {
            model.SavePretrained(outputDirectory);
        }

        progress?.Report(new OperationProgress("init-model", 1, 3, "step", "configs"));
        new GenerationConfig { BosTokenId = config.BosTokenId, EosTokenIds = config.EosTokenIds, PadTokenId = config.PadTokenId }.Save(outputDirectory);
        progress?.Report(new OperationProgress("init-model", 2, 3, "step", "tokenizer"));
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            string source = Path.Combine(tokenizer, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(outputDirectory, file), overwrite: true);
            }
        }

        progress?.Report(new OperationProgress("init-model", 3, 3, "step", "done"));
        return config;
    }
}
