using SharpTune.Models;
using SharpTune.Models.Layers;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

/// <summary>Tiny models for tests: small vocabulary, every parameter random (norm scales and biases too, so they are really tested).</summary>
internal static class TestModels
{
    public const int Vocab = 256;

    public static ModelConfig Config(ModelFamily family, bool? tied = null, Func<ModelConfig, ModelConfig>? adjust = null)
    {
        var config = TinyModelFactory.Config(family, TinyModelSize.Tiny, Vocab, bosTokenId: 1, eosTokenIds: [2], tieWordEmbeddings: tied);
        return adjust is null ? config : adjust(config);
    }

    /// <summary>
    /// Embeddings N(0, 1), other matrices and biases N(0, 0.15), norm scales 1 + N(0, 0.1): large enough that every
    /// layer changes the logits and greedy generation does not just repeat its last token.
    /// </summary>
    public static WeightSource FullyRandom(long seed, ScalarType dtype) => (name, shape, role) =>
    {
        var generator = new Generator((ulong)(seed * 1_000_003 + StableHash(name)));
        using var scope = NewDisposeScope();
        var noise = randn(shape, ScalarType.Float32, CPU, generator: generator);
        var value = role switch
        {
            WeightRole.NormScale => 1 + 0.1 * noise,
            _ when name.Contains("embed_tokens") => noise,
            _ => 0.15 * noise,
        };
        return CausalLM.AsParameter(value.to(dtype).MoveToOuterDisposeScope());
    };

    public static CausalLM Create(ModelConfig config, long seed = 5, ScalarType dtype = ScalarType.Float32) =>
        CausalLM.Create(config, dtype, CPU, FullyRandom(seed, dtype));

    public static string TempDirectory(string tag)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"sharptune-tests-{tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Same shape, dtype and elements.</summary>
    public static bool Same(this Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    private static long StableHash(string text)
    {
        long hash = 1469598103934665603;
        foreach (char c in text)
        {
            hash = unchecked((hash ^ c) * 1099511628211);
        }

        return hash & 0x7fffffff;
    }
}
