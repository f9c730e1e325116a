using System.Collections.Concurrent;
using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

/// <summary>
/// The tiny models of each architecture, written once per test class, with their f32 GGUF export and the reference
/// decoder's logits for the test prompt.
/// </summary>
public sealed class TinyModelFixture : IDisposable
{
    public static readonly int[] Prompt = [256, 5, 77, 140, 33, 200, 9, 310, 18, 64];

    private readonly TempDirectory _directory = new();
    private readonly ConcurrentDictionary<string, Lazy<Entry>> _entries = new();

    internal sealed record Entry(TinyHfModel Model, string HfDirectory, string F32Gguf, float[] ReferenceLogits);

    internal static TinyHfModel Model(string name) => name switch
    {
        "llama3" => new("llama", Llama3Rope: true, Seed: 1),
        "llama-tied-bf16" => new("llama", Tied: true, DType: "BF16", AttentionBias: true, Seed: 2),
        "mistral" => new("mistral", Tokenizer: "spm", Heads: 8, KvHeads: 2, Seed: 3),
        "qwen2" => new("qwen2", AttentionBias: true, Tied: true, Tokenizer: "qwen2", Seed: 4),
        "qwen3" => new("qwen3", QkNorm: true, Heads: 8, KvHeads: 4, HeadDim: 64, Tokenizer: "qwen2", Seed: 5),
        // Rows of 320 values: not a multiple of 256, so K-quants fall back to Q5_0/Q5_1/Q8_0 as llama.cpp does.
        "qwen2-narrow" => new("qwen2", Hidden: 320, Intermediate: 640, Heads: 5, KvHeads: 1, AttentionBias: true, Tokenizer: "qwen2", Seed: 6),
        _ => throw new ArgumentException(name),
    };

    internal Entry Get(string name) => _entries.GetOrAdd(name, n => new Lazy<Entry>(() =>
    {
        var model = Model(n);
        string hf = model.Write(Path.Combine(_directory.Path, n, "hf"));
        string gguf = Path.Combine(_directory.Path, n, "model.f32.gguf");
        GgufExporter.Export(hf, gguf, GgufFileType.F32);
        var logits = HfReferenceDecoder.FromModel(model).Forward(Prompt)[^1];
        return new Entry(model, hf, gguf, logits);
    })).Value;

    internal string PathFor(string name, string file) => Path.Combine(_directory.Path, name, file);

    public void Dispose() => _directory.Dispose();
}

/// <summary>One set of tiny models for all GGUF test classes that use them (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny GGUF models";
}
