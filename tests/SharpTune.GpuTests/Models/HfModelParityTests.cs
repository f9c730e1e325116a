using System.Diagnostics;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using SharpTune.Models.Generation;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Models;

/// <summary>
/// The engine against Hugging Face transformers on the GPU: the same checkpoint, the same token ids, logits and
/// greedy generations compared. Bounds: fp32 relative error (max |ours - hf| / max |hf|) below 1e-4 and identical
/// 32-token greedy generations; bf16 relative error below 2e-2 (about five bf16 units in the last place, 2^-8 each,
/// at the scale of the largest logit: two libraries rounding the same bf16 operations in slightly different orders).
/// </summary>
public sealed class HfModelParityTests(ReferenceModels reference, ITestOutputHelper output) : IClassFixture<ReferenceModels>
{
    private const double Fp32Bound = 1e-4;
    private const double Bf16Bound = 2e-2;
    private const int GreedyTokens = 32;

    public static TheoryData<string> Variants => new(ReferenceModels.VariantNames);

    public static TheoryData<string> Families => new("llama", "mistral", "qwen2", "qwen3");

    [Theory]
    [MemberData(nameof(Variants))]
    public void A_transformers_model_gives_the_same_fp32_logits_and_greedy_tokens(string variant) =>
        CompareWithTransformers(reference.Tiny[variant], variant, ScalarType.Float32, Fp32Bound, greedy: true);

    [Theory]
    [MemberData(nameof(Variants))]
    public void A_transformers_model_gives_the_same_bf16_logits_within_bf16_rounding(string variant) =>
        CompareWithTransformers(reference.Tiny[variant], variant, ScalarType.BFloat16, Bf16Bound, greedy: false);

    [Theory]
    [MemberData(nameof(Families))]
    public void A_model_written_by_the_engine_loads_in_transformers_and_agrees(string family)
    {
        _ = CudaFixture.Runtime;
        var config = TinyModelFactory.Config(Enum.Parse<ModelFamily>(family, ignoreCase: true), TinyModelSize.Tiny, 512, 1, [2]);
        string directory = Path.Combine(Path.GetTempPath(), $"sharptune-engine-{family}-{Guid.NewGuid():N}");
        try
        {
            using (var model = TinyModelFactory.CreateModel(config, seed: 11, ScalarType.Float32, CPU))
            {
                model.SavePretrained(directory);
            }

            new GenerationConfig { BosTokenId = 1, EosTokenIds = [2] }.Save(directory);
            CompareWithTransformers(directory, "init-model " + family, ScalarType.Float32, Fp32Bound, greedy: true);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Loading_the_8b_checkpoint_to_the_gpu_is_timed_against_transformers()
    {
        _ = CudaFixture.Runtime;
        if (reference.Llama8B is not { } directory)
        {
            Assert.Skip("no 8B reference: run tests/oracles/models_make_reference.py --out <ref> --with-8b first");
            return;
        }

        double ours;
        using (var scope = NewDisposeScope())
        {
            cuda.synchronize();
            var clock = Stopwatch.StartNew();
            using var model = CausalLM.Load(directory, ScalarType.BFloat16, CUDA);
            cuda.synchronize();
            ours = clock.Elapsed.TotalSeconds;
            var logits = model.forward(tensor(new long[] { 128000, 791, 6864, 315, 9822, 374 }, [1, 6], device: CUDA));
            Assert.True(logits.isfinite().all().item<bool>(), "8B logits are not finite");
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        string timing = PythonOracle.Run("models_logits.py", "--model", directory, "--dtype", "bf16", "--time-load");
        double theirs = double.Parse(timing.Split("load_seconds=")[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"load 8B bf16 to cuda: SharpTune {ours:F1} s, transformers from_pretrained {theirs:F1} s");
    }

    private void CompareWithTransformers(string directory, string name, ScalarType dtype, double bound, bool greedy)
    {
        _ = CudaFixture.Runtime;
        var config = ModelConfig.Load(directory);
        var rng = new Random(42);
        int[][] sequences = [
            Enumerable.Range(0, 20).Select(_ => rng.Next(3, config.VocabSize)).ToArray(),
            Enumerable.Range(0, 13).Select(_ => rng.Next(3, config.VocabSize)).ToArray(),
        ];
        string oracleFile = Path.Combine(Path.GetTempPath(), $"sharptune-oracle-{Guid.NewGuid():N}.safetensors");
        try
        {
            PythonOracle.Run(
                "models_logits.py", "--model", directory, "--dtype", dtype == ScalarType.Float32 ? "fp32" : "bf16",
                "--ids", string.Join(";", sequences.Select(s => string.Join(",", s))),
                "--generate", greedy ? GreedyTokens.ToString() : "0", "--out", oracleFile);
            using var oracle = SafetensorsFile.Open(oracleFile);
            using var model = CausalLM.Load(directory, dtype, CUDA);
            for (int i = 0; i < sequences.Length; i++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var ids = tensor(sequences[i].Select(x => (long)x).ToArray(), [1, sequences[i].Length], device: CUDA);
                var ours = model.forward(ids)[0].to(ScalarType.Float32).cpu();
                var theirs = oracle.ReadTensor($"logits.{i}");
                double maxAbs = (ours - theirs).abs().max().item<float>();
                double relative = maxAbs / theirs.abs().max().item<float>();
                double argmaxAgreement = ours.argmax(-1).eq(theirs.argmax(-1)).to(ScalarType.Float32).mean().item<float>();
                output.WriteLine($"{name} {dtype} seq {i}: max abs {maxAbs:E2}, relative {relative:E2}, argmax agreement {argmaxAgreement:P0}");
                Assert.True(relative < bound, $"{name} {dtype} sequence {i}: relative error {relative:E2} >= {bound:E0}");

                if (greedy)
                {
                    var generated = new TextGenerator(model).Generate([sequences[i]], new GenerationOptions { MaxNewTokens = GreedyTokens, EosTokenIds = [] });
                    long[] expected = oracle.ReadTensor($"generated.{i}").data<long>().ToArray();
                    output.WriteLine($"{name} greedy seq {i}: hf [{string.Join(",", expected)}] ours [{string.Join(",", generated.Tokens[0])}]");
                    Assert.Equal(expected.Select(x => (int)x), generated.Tokens[0]);
                }
            }
        }
        finally
        {
            File.Delete(oracleFile);
        }
    }
}
