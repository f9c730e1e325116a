using System.Reflection;
using SharpTune.Diagnostics;
using SharpTune.Kernels;
using SharpTune.Lora;
using SharpTune.Progress;
using SharpTune.Runtime.Nvml;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Benchmarks;

/// <summary>
/// Times real LoRA/QLoRA training steps of a random-weight model with <see cref="SftTrainer"/> (forward, loss over all
/// tokens, backward, clipping, AdamW on the LoRA parameters) on random token sequences, and reports the median step
/// time after warm-up, tokens/s, MFU and the process's peak GPU memory.
/// </summary>
public static class TrainingBenchmark
{
    public static BenchmarkResult Run(BenchmarkOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellation = default)
    {
        options = options.Validated();
        var config = options.ResolveConfig();
        var device = ResolveDevice(options.Device);
        var dtype = device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        bool kernelsBefore = FusedKernels.Enabled;
        FusedKernels.Enabled = options.Kernels;
        string outputDir = Path.Combine(Path.GetTempPath(), "sharptune-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var model = new LoraBenchmarkModel(config, options.Mode == "qlora", options.LoraRank, options.LoraRank, LoraConfig.AllTargets, dtype, device, options.Seed);
            if (options.EmbeddingOnHost)
            {
                model.Model.KeepEmbeddingOnHost();
            }

            var samples = RandomSamples(config.VocabSize, options.Batch * (options.Steps + options.Warmup), options.Sequence, options.Seed);
            var training = new TrainingOptions
            {
                OutputDir = outputDir,
                Quantization = options.Mode == "qlora" ? "nf4" : "none",
                LoraRank = options.LoraRank,
                LoraAlpha = options.LoraRank,
                BatchSize = options.Batch,
                GradientAccumulation = 1,
                MaxSteps = options.Warmup + options.Steps,
                WarmupSteps = 0,
                Optimizer = options.Optimizer,
                MaxSequenceLength = options.Sequence,
                CompletionOnlyLoss = false,
                GradientCheckpointing = options.Checkpointing,
                CheckpointLayers = options.CheckpointLayers,
                SaveSteps = 0,
                SaveTotalLimit = 1,
                Seed = options.Seed,
                LossChunkTokens = options.LossChunkTokens,
                OffloadMlpLayers = options.OffloadMlpLayers,
                GpuMemoryBudgetGib = options.GpuMemoryBudgetGib,
            };
            var trainer = new SftTrainer(model, samples, training);
            using var trace = options.TracePath is null ? null : StepTrace.Install(options.TracePath, options.Warmup, options.TraceSynchronize, device);
            var result = trainer.Train(progress, cancellation);
            var measured = result.Steps.Skip(options.Warmup).ToArray();
            var seconds = measured.Select(s => s.StepSeconds).ToArray();
            double median = Median(seconds);
            long tokensPerStep = (long)options.Batch * options.Sequence;
            long dense = BenchmarkModels.DenseParameters(config);
            double flopsPerToken = 6.0 * dense;
            double tokensPerSecond = tokensPerStep / median;
            string? gpuName = device.type == DeviceType.CUDA ? GpuName(device.index < 0 ? 0 : device.index) : null;
            double? peak = GpuPeakThroughput.DenseBf16Tflops(gpuName);
            double? mfu = peak is null ? null : flopsPerToken * tokensPerSecond / (peak.Value * 1e12);
            return new BenchmarkResult(
                options.ModelName, options.Mode, options.Batch, options.Sequence, options.Checkpointing.ToString().ToLowerInvariant(),
                options.Kernels, options.Optimizer, device.ToString(), gpuName, dense, model.TrainableParameterCount, options.Warmup,
                seconds, median, tokensPerSecond, flopsPerToken, peak, mfu, result.PeakGpuMemoryBytes, measured[^1].Loss, Version())
            {
                Embedding = model.Model.EmbeddingOnHost ? "host" : "device",
                LossChunkTokens = options.LossChunkTokens,
                CheckpointLayers = result.CheckpointLayers,
                OffloadMlpLayers = options.OffloadMlpLayers,
                OffloadedBytesPerStep = result.OffloadedBytes,
                GpuMemoryBudgetGib = options.GpuMemoryBudgetGib,
            };
        }
        finally
        {
            FusedKernels.Enabled = kernelsBefore;
            if (Directory.Exists(outputDir))
            {
                Directory.Delete(outputDir, recursive: true);
            }
        }
    }

    /// <summary>Random token sequences of exactly <paramref name="length"/> tokens, loss on every token.</summary>
    public static InMemorySamples RandomSamples(int vocab, int count, int length, int seed)
    {
        var random = new Random(seed);
        var mask = Enumerable.Repeat((byte)1, length).ToArray();
        var samples = new List<TrainingSample>(count);
        for (int i = 0; i < count; i++)
        {
            samples.Add(new TrainingSample(Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray(), mask));
        }

        return new InMemorySamples(samples);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The trainer's device rules (<see cref="TrainingRun.ResolveDevice"/>), its errors prefixed "bench: ".</summary>
    private static Device ResolveDevice(string name)
    {
        try
        {
            return TrainingRun.ResolveDevice(name);
        }
        catch (SharpTuneException e)
        {
            throw new SharpTuneException("bench: " + e.Message, e);
        }
    }

    private static string? GpuName(int index)
    {
        using var nvml = NvmlLibrary.TryOpen(out _);
        var devices = nvml?.Devices();
        return devices is not null && index < devices.Count ? devices[index].Name : null;
    }

    private static string Version() =>
        typeof(TrainingBenchmark).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";
}
