using System.Diagnostics;
using SharpTune.Distributed;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Progress;
using SharpTune.Quantization;
using SharpTune.Runtime;
using SharpTune.Runtime.Nvml;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// A whole fine-tuning run from settings: pick the device and precision, load the base (a quantized artifact, a HF
/// directory quantized to NF4 while loading, or 16-bit), put LoRA on it, open the dataset (or synthetic tokens),
/// train with <see cref="SftTrainer"/>. What <c>sharptune train</c> and the pipeline's TrainLoRA stage call.
/// </summary>
public static class TrainingRun
{
    public sealed record Summary(TrainingResult Result, string Device, ScalarType DType, long TrainableParameters, TimeSpan LoadTime, TimeSpan TrainTime)
    {
        /// <summary>Ranks that trained together (1 without data parallelism).</summary>
        public int WorldSize { get; init; } = 1;
    }

    public static Summary Run(TrainingOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellation = default)
    {
        options = options.Validated();
        // Under `sharptune train --gpus N`, torchrun or Slurm this process is one rank: join the others, train on
        // the GPU the rendezvous gives this rank. Alone, nothing happens here.
        using var synchronizer = DistributedEnvironment.FromEnvironment().IsDistributed ? DistributedTraining.Join(log: Console.Error) : null;
        if (synchronizer is { IsMain: false })
        {
            progress = null;
        }

        var device = synchronizer?.Device ?? ResolveDevice(options.Device);
        var dtype = ResolveDType(options.Precision, device);
        var clock = Stopwatch.StartNew();
        var model = LoadBase(options, device, dtype, progress);
        using var lora = new LoraCausalLM(model, options.ToLoraConfig() with { BaseModelNameOrPath = options.Model ?? options.QuantizedModel });
        if (options.EmbeddingOnHost)
        {
            model.KeepEmbeddingOnHost();
        }

        var loadTime = clock.Elapsed;
        ITrainingSamples samples = options.SyntheticTokens > 0
            ? new SyntheticSamples(Math.Max(64, options.BatchSize * (synchronizer?.WorldSize ?? 1) * options.GradientAccumulation * Math.Max(1, options.MaxSteps)), options.SyntheticTokens, model.Config.VocabSize, options.Seed)
            : TokenizedDatasetSamples.Open(options.Dataset ?? throw new SharpTuneException("training settings: dataset is not set (or use synthetic_tokens for a benchmark)"));
        clock.Restart();
        TrainingResult result;
        try
        {
            result = new SftTrainer(lora, samples, options, synchronizer).Train(progress, cancellation);
        }
        catch (Exception e) when (synchronizer is not null && e is not PeerFailedException)
        {
            // Tell the other ranks at once, so they stop with this message instead of waiting in a collective.
            synchronizer.ReportFailure(e.Message);
            throw;
        }

        return new Summary(result, device.ToString(), dtype, lora.TrainableParameterCount, loadTime, clock.Elapsed) { WorldSize = synchronizer?.WorldSize ?? 1 };
    }

    /// <summary>The base model: quantized artifact, HF directory quantized on load (nf4), or 16-bit (none).</summary>
    public static CausalLM LoadBase(TrainingOptions options, Device device, ScalarType dtype, IProgress<OperationProgress>? progress)
    {
        if (options.QuantizedModel is { } quantized)
        {
            return QuantizedBaseModel.Load(quantized, dtype, device, progress);
        }

        string model = options.Model ?? throw new SharpTuneException("training settings: set model (a HF directory) or quantized_model");
        if (QuantizedBaseModel.IsQuantizedDirectory(model))
        {
            return QuantizedBaseModel.Load(model, dtype, device, progress);
        }

        return options.Quantization == "nf4"
            ? QuantizedBaseModel.QuantizeWhileLoading(model, dtype, device, progress: progress)
            : CausalLM.Load(model, dtype, device, progress);
    }

    /// <summary>"auto": the first GPU when CUDA is usable, else the CPU; "cpu", "cuda", "cuda:N".</summary>
    public static Device ResolveDevice(string name)
    {
        bool cudaAvailable = TorchRuntime.Current?.CudaAvailable ?? false;
        string lower = name.Trim().ToLowerInvariant();
        if (lower == "auto")
        {
            return cudaAvailable ? new Device(DeviceType.CUDA, 0) : CPU;
        }

        if (lower == "cpu")
        {
            return CPU;
        }

        if (lower.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!cudaAvailable)
            {
                throw new SharpTuneException($"device {name} requested but CUDA is not available (run 'sharptune doctor --device cuda')");
            }

            int index = lower.Length > 5 && int.TryParse(lower[5..], out int n) ? n : 0;
            return new Device(DeviceType.CUDA, index);
        }

        throw new SharpTuneException($"unknown device '{name}' (use auto, cpu, cuda or cuda:N)");
    }

    /// <summary>"auto": bf16 on GPUs with compute capability 8.0+, fp16 on older GPUs, fp32 on the CPU.</summary>
    public static ScalarType ResolveDType(string precision, Device device) => precision switch
    {
        "bf16" => ScalarType.BFloat16,
        "fp16" => ScalarType.Float16,
        "fp32" => ScalarType.Float32,
        _ when device.type != DeviceType.CUDA => ScalarType.Float32,
        _ => GpuSupportsBf16(device.index < 0 ? 0 : device.index) ? ScalarType.BFloat16 : ScalarType.Float16,
    };

    private static bool GpuSupportsBf16(int index)
    {
        using var nvml = NvmlLibrary.TryOpen(out _);
        return nvml is null || index >= nvml.Devices().Count || nvml.Devices()[index].SupportsBf16;
    }
}
