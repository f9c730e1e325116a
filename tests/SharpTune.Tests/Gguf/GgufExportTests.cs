using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

public sealed class GgufExportTests(ITestOutputHelper output)
{
    private static readonly int[] Prompt = [256, 5, 77, 140, 33, 200, 9, 310, 18, 64];

    internal static TinyHfModel Llama3 => new("llama", Llama3Rope: true, Seed: 1);
    internal static TinyHfModel LlamaTiedBf16 => new("llama", Tied: true, DType: "BF16", AttentionBias: true, Seed: 2);
    internal static TinyHfModel Mistral => new("mistral", Tokenizer: "spm", Heads: 8, KvHeads: 2, Seed: 3);
    internal static TinyHfModel Qwen2 => new("qwen2", AttentionBias: true, Tied: true, Tokenizer: "qwen2", Seed: 4);
    internal static TinyHfModel Qwen3 => new("qwen3", QkNorm: true, Heads: 8, KvHeads: 4, HeadDim: 64, Tokenizer: "qwen2", Seed: 5);

    public static TheoryData<string> Architectures => new("llama3", "llama-tied-bf16", "mistral", "qwen2", "qwen3");

    private static TinyHfModel Model(string name) => name switch
    {
        "llama3" => Llama3,
        "llama-tied-bf16" => LlamaTiedBf16,
        "mistral" => Mistral,
        "qwen2" => Qwen2,
        "qwen3" => Qwen3,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void F32_export_gives_llama_cpp_the_same_logits_as_the_reference_decoder(string architecture)
    {
        using var dir = new TempDirectory();
        var model = Model(architecture);
        string hf = model.Write(dir.File("hf"));
        string gguf = dir.File("model.f32.gguf");
        GgufExporter.Export(hf, gguf, GgufFileType.F32, cancellationToken: TestContext.Current.CancellationToken);
        using var llama = new LlamaCppRunner(gguf);
        var reference = HfReferenceDecoder.FromModel(model).Forward(Prompt)[^1];
        var logits = llama.NextTokenLogits(Prompt);
        var comparison = LogitComparison.Of(logits, reference);
        output.WriteLine($"{architecture} f32: {comparison}");
        Assert.True(comparison.RelativeRms < 2e-5, comparison.ToString());
        Assert.True(comparison.SameArgmax);
    }
}
