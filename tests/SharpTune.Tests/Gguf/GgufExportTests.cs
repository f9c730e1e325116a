using LLama;
using LLama.Native;
using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

[Collection(TinyModelCollection.Name)]
public sealed class GgufExportTests(TinyModelFixture models, ITestOutputHelper output)
{
    public static TheoryData<string> Architectures => new("llama3", "llama-tied-bf16", "mistral", "qwen2", "qwen3");

    [Theory]
    [MemberData(nameof(Architectures))]
    public void F32_export_gives_llama_cpp_the_same_logits_as_the_reference_decoder(string architecture)
    {
        var entry = models.Get(architecture);
        using var llama = new LlamaCppRunner(entry.F32Gguf);
        var comparison = LogitComparison.Of(llama.NextTokenLogits(TinyModelFixture.Prompt), entry.ReferenceLogits);
        output.WriteLine($"{architecture} f32: {comparison}");
        Assert.True(comparison.RelativeRms < 2e-5, comparison.ToString());
        Assert.True(comparison.SameArgmax);
    }

    /// <summary>
    /// llama.cpp on our quantized file against the reference decoder run (a) on the weights our reader dequantizes
    /// from that file, which leaves only llama.cpp's own activation rounding, and (b) on the original weights, which
    /// adds the format's quantization error.
    /// </summary>
    /// <remarks>
    /// The tiny random models amplify llama.cpp's 8-bit rounding of activations (used with every quantized weight)
    /// to a few percent of the logits, so "vs dequantized" bounds are loose; the byte-identity test below is what
    /// pins the files down. What must hold is that llama.cpp is nearer the dequantized weights than the originals.
    /// </remarks>
    [Theory]
    [InlineData("llama3", "f16", 3e-3, 5e-3)]
    [InlineData("llama3", "bf16", 2e-2, 3e-2)]
    [InlineData("llama3", "q8_0", 0.12, 0.12)]
    [InlineData("llama3", "q4_k_m", 0.12, 0.8)]
    [InlineData("mistral", "q4_k_m", 0.12, 0.8)]
    [InlineData("mistral", "f16", 3e-3, 5e-3)]
    [InlineData("qwen2", "q5_k_m", 0.12, 0.4)]
    [InlineData("qwen3", "bf16", 2e-2, 3e-2)]
    [InlineData("llama-tied-bf16", "q6_k", 0.12, 0.25)]
    public void Quantized_export_runs_in_llama_cpp_within_the_formats_error(string architecture, string quant, double toDequantized, double toOriginal)
    {
        var entry = models.Get(architecture);
        var fileType = GgufFileTypes.Parse(quant);
        string gguf = models.PathFor(architecture, $"model.{quant}.gguf");
        GgufExporter.Export(entry.HfDirectory, gguf, fileType, cancellationToken: TestContext.Current.CancellationToken);
        float[] logits;
        using (var llama = new LlamaCppRunner(gguf))
        {
            logits = llama.NextTokenLogits(TinyModelFixture.Prompt);
        }

        var dequantized = new HfReferenceDecoder(entry.Model, DequantizedWeights(entry.Model, gguf)).Forward(TinyModelFixture.Prompt)[^1];
        var vsDequantized = LogitComparison.Of(logits, dequantized);
        var vsOriginal = LogitComparison.Of(logits, entry.ReferenceLogits);
        output.WriteLine($"{architecture} {quant}: vs dequantized {vsDequantized}; vs original {vsOriginal}");
        Assert.True(vsDequantized.RelativeRms < toDequantized, $"vs dequantized weights: {vsDequantized}");
        Assert.True(vsOriginal.RelativeRms < toOriginal, $"vs original weights: {vsOriginal}");
        Assert.True(vsDequantized.RelativeRms < vsOriginal.RelativeRms, "llama.cpp should compute with the weights our reader dequantizes");
    }

    /// <summary>
    /// The strongest oracle: llama.cpp's own llama_model_quantize, run on our F32 file, must produce exactly the
    /// tensor types (its per-tensor policy) and bytes (its reference quantizers) of our direct export.
    /// </summary>
    [Theory]
    [InlineData("llama3", "q8_0", LLamaFtype.MOSTLY_Q8_0)]
    [InlineData("llama3", "q4_0", LLamaFtype.MOSTLY_Q4_0)]
    [InlineData("llama3", "q4_k_m", LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData("llama3", "q4_k_s", LLamaFtype.MOSTLY_Q4_K_S)]
    [InlineData("llama3", "q6_k", LLamaFtype.MOSTLY_Q6_K)]
    [InlineData("qwen2", "q5_k_m", LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData("qwen2-narrow", "q4_k_m", LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData("qwen2-narrow", "q5_k_m", LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData("qwen3", "q5_k_s", LLamaFtype.MOSTLY_Q5_K_S)]
    public void Our_quantized_file_is_byte_identical_to_llama_cpp_quantizing_our_f32_file(string architecture, string quant, LLamaFtype ftype)
    {
        var entry = models.Get(architecture);
        string ours = models.PathFor(architecture, $"ours.{quant}.gguf");
        string theirs = models.PathFor(architecture, $"llama-quantize.{quant}.gguf");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        GgufExporter.Export(entry.HfDirectory, ours, GgufFileTypes.Parse(quant), cancellationToken: TestContext.Current.CancellationToken);
        output.WriteLine($"our export {clock.ElapsedMilliseconds} ms");
        LlamaCppRunner.Configure();
        Assert.True(LLamaQuantizer.Quantize(entry.F32Gguf, theirs, ftype, nthread: 2, allowRequantize: false, quantizeOutputTensor: true));

        using var ourFile = GgufReader.Open(ours);
        using var theirFile = GgufReader.Open(theirs); // our reader reads llama.cpp's file
        Assert.Equal(theirFile.Tensors.Select(t => t.Name).Order(), ourFile.Tensors.Select(t => t.Name).Order());
        Assert.Equal((long)ftype, theirFile.Value("general.file_type").AsInt64());
        Assert.Equal((long)ftype, ourFile.Value("general.file_type").AsInt64());
        var types = new SortedDictionary<string, int>();
        foreach (var theirTensor in theirFile.Tensors)
        {
            var ourTensor = ourFile.Tensor(theirTensor.Name);
            Assert.True(theirTensor.Type == ourTensor.Type, $"{theirTensor.Name}: llama.cpp chose {theirTensor.Type}, we chose {ourTensor.Type}");
            Assert.Equal(theirTensor.Dimensions, ourTensor.Dimensions);
            var a = ourFile.ReadTensorBytes(ourTensor);
            var b = theirFile.ReadTensorBytes(theirTensor);
            int same = a.AsSpan().CommonPrefixLength(b);
            Assert.True(same == a.Length && a.Length == b.Length, $"{theirTensor.Name} ({theirTensor.Type}): bytes differ from {same} of {a.Length}");
            types[theirTensor.Type.ToString()] = types.GetValueOrDefault(theirTensor.Type.ToString()) + 1;
        }

        output.WriteLine($"{architecture} {quant}: {string.Join(", ", types.Select(t => $"{t.Value} x {t.Key}"))}");
    }

    [Fact]
    public void Greedy_f16_generation_in_llama_cpp_matches_the_reference_decoder_on_f16_weights()
    {
        var entry = models.Get("llama3");
        string gguf = models.PathFor("llama3", "greedy.f16.gguf");
        GgufExporter.Export(entry.HfDirectory, gguf, GgufFileType.F16, cancellationToken: TestContext.Current.CancellationToken);
        using var llama = new LlamaCppRunner(gguf);
        var ours = new HfReferenceDecoder(entry.Model, DequantizedWeights(entry.Model, gguf)).Greedy(TinyModelFixture.Prompt, 8);
        var theirs = llama.Greedy(TinyModelFixture.Prompt, 8);
        output.WriteLine($"reference {string.Join(" ", ours)}; llama.cpp {string.Join(" ", theirs)}");
        Assert.Equal(ours, theirs);
        Assert.True(ours.Distinct().Count() > 1, "a degenerate continuation proves little");
    }

    /// <summary>The weights as our reader dequantizes them from <paramref name="gguf"/>, back in Hugging Face layout.</summary>
    private static Dictionary<string, float[]> DequantizedWeights(TinyHfModel model, string gguf)
    {
        using var reader = GgufReader.Open(gguf);
        var architecture = LlamaCppArchitecture.For(model.ModelType);
        var weights = new Dictionary<string, float[]>();
        foreach (var (name, (shape, _)) in model.Weights)
        {
            string ggufName = LlamaCppTensorNames.ToGguf(name)!;
            var values = reader.ReadTensorAsFloat32(ggufName);
            bool isQ = name.Contains("q_proj", StringComparison.Ordinal), isK = name.Contains("k_proj", StringComparison.Ordinal);
            if (architecture.PermuteQueryKey && (isQ || isK))
            {
                int rows = (int)shape[0];
                int rowLength = values.Length / rows;
                var sources = LlamaCppArchitecture.PermutedRowSources(rows, isQ ? model.Heads : model.KvHeads);
                var hf = new float[values.Length];
                for (int r = 0; r < rows; r++)
                {
                    values.AsSpan(r * rowLength, rowLength).CopyTo(hf.AsSpan(sources[r] * rowLength, rowLength));
                }

                values = hf;
            }

            weights[name] = values;
        }

        return weights;
    }
}
