using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Quantization;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Training;

/// <summary>
/// The reference run's settings on a Llama-3-8B-shaped model with random weights (NF4 base built projection by
/// projection, LoRA r=16 alpha=16 on all seven projections, gradient checkpointing, 8-bit AdamW, bf16, batch 2 x
/// accumulation 4 x 2048 tokens), for a few steps: prints step time, tokens/s and peak GPU memory (NVML, what
/// nvidia-smi shows) and checks the loss stays finite. SHARPTUNE_BENCH_STEPS (default 3) and
/// SHARPTUNE_BENCH_LAYERS (default 32) shorten it.
/// </summary>
public sealed class QloraBenchmarkTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptune-bench-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Llama3_8b_shaped_qlora_reference_settings_train_and_report_step_time_and_peak_memory()
    {
        _ = CudaFixture.Runtime;
        int steps = int.TryParse(Environment.GetEnvironmentVariable("SHARPTUNE_BENCH_STEPS"), out int s) ? s : 3;
        int layers = int.TryParse(Environment.GetEnvironmentVariable("SHARPTUNE_BENCH_LAYERS"), out int l) ? l : 32;
        var config = new ModelConfig
        {
            Family = ModelFamily.Llama,
            Architecture = "LlamaForCausalLM",
            VocabSize = 128256,
            HiddenSize = 4096,
            IntermediateSize = 14336,
            NumHiddenLayers = layers,
            NumAttentionHeads = 32,
            NumKeyValueHeads = 8,
            HeadDim = 128,
            MaxPositionEmbeddings = 8192,
            RmsNormEps = 1e-5,
            Rope = new RopeScaling(RopeScaling.Llama3, 500000.0, Factor: 8.0, LowFreqFactor: 1.0, HighFreqFactor: 4.0, OriginalMaxPositionEmbeddings: 8192),
            BosTokenId = 128000,
            EosTokenIds = [128001],
        };
        var options = new TrainingOptions
        {
            OutputDir = _dir,
            MaxSteps = steps,
            SaveSteps = 0,
            BatchSize = 2,
            GradientAccumulation = 4,
            MaxSequenceLength = 2048,
            GradientCheckpointing = GradientCheckpointing.On,
            Optimizer = "adamw_8bit",
            LoraRank = 16,
            LoraAlpha = 16,
        };
        var base16 = QuantizedBaseModel.CreateRandom(config, 3407, ScalarType.BFloat16, CUDA);
        using var model = new LoraCausalLM(base16, options.ToLoraConfig());
        var samples = new SyntheticSamples(steps * 8, 2048, config.VocabSize, 3407);
        var result = new SftTrainer(model, samples, options).Train(null, TestContext.Current.CancellationToken);
        foreach (var step in result.Steps)
        {
            output.WriteLine($"step {step.Step}: loss {step.Loss:F4} {step.StepSeconds:F2} s {step.TokensPerSecond:F0} tok/s peak {Runtime.Nvml.GpuMemoryMeter.Format(step.PeakGpuMemoryBytes)}");
        }

        var timed = result.Steps.Skip(1).Select(x => x.StepSeconds).Order().ToArray();
        double median = timed.Length > 0 ? timed[timed.Length / 2] : result.Steps[0].StepSeconds;
        output.WriteLine($"SharpTune QLoRA {layers} layers, batch 2 x accum 4 x 2048: median step {median:F2} s, " +
            $"{2 * 4 * 2048 / median:F0} tokens/s, peak GPU memory {Runtime.Nvml.GpuMemoryMeter.Format(result.PeakGpuMemoryBytes)} (NVML), " +
            $"trainable {model.TrainableParameterCount / 1e6:F1}M");
        Assert.All(result.Steps, x => Assert.True(double.IsFinite(x.Loss)));
        Assert.NotNull(result.PeakGpuMemoryBytes);
    }
}
