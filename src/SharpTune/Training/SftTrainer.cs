using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using SharpTune.Diagnostics;
using SharpTune.Distributed;
using SharpTune.Progress;
using SharpTune.Runtime.Nvml;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Supervised fine-tuning of the trainable weights of a causal LM (LoRA adapters) on tokenized examples.
/// Each optimizer step runs <c>gradient_accumulation</c> micro-batches; the loss is the mean over all labelled
/// tokens of the step (not a mean of per-batch means). Then: gradient unscaling (fp16), clipping, AdamW (32- or
/// 8-bit) with the scheduled learning rate. Everything random is a function of (seed, step), so a run is
/// deterministic for a seed and a resumed run continues the same loss curve. Per step it reports loss, learning rate,
/// gradient norm, tokens/s and peak GPU memory through <see cref="IProgress{T}"/> and appends them to
/// <c>train_log.jsonl</c> in the output directory.
/// <para>
/// Data parallel: with a <see cref="IGradientSynchronizer"/> of N ranks, <c>batch_size</c> is per rank; every rank
/// plans the same global micro-batches of N x batch_size rows and computes its own shard of each
/// (<see cref="BatchPlan.Batch(long, int, int)"/>), divides its loss by the step's global count of labelled tokens, and
/// the gradients are summed over ranks before clipping and the optimizer. So N ranks take the same steps as one process
/// with N times the batch. Only rank 0 writes the log, checkpoints and the adapter, and reports progress.
/// </para>
/// </summary>
public sealed class SftTrainer(ITrainableCausalLM model, ITrainingSamples samples, TrainingOptions options, IGradientSynchronizer? synchronizer = null)
{
    public const string LogFileName = "train_log.jsonl";
    public const string AdapterDirectoryName = "adapter";

    public TrainingOptions Options { get; } = options.Validated();

    /// <summary>Optimizer steps of the whole run.</summary>
    public int TotalSteps(BatchPlan plan) => Options.MaxSteps > 0
        ? Options.MaxSteps
        : Math.Max(1, (int)Math.Ceiling(Options.Epochs * plan.BatchesPerEpoch / Options.GradientAccumulation));

    /// <summary>
    /// The chunked loss function gives only the hidden rows' gradient (computed in its forward); a trainable LM head
    /// takes autograd's path through the logits instead.
    /// </summary>
    private readonly bool _lmHeadTrainable = model.TrainableParameters.Any(p => p.Name.Contains("lm_head", StringComparison.Ordinal));

    private int WorldSize => synchronizer?.WorldSize ?? 1;

    private bool IsMain => synchronizer?.IsMain ?? true;

    public TrainingResult Train(IProgress<OperationProgress>? progress = null, CancellationToken cancellation = default)
    {
        var plan = new BatchPlan(samples, Options.BatchSize * WorldSize, Options.MaxSequenceLength, Options.CompletionOnlyLoss, Options.Packing, Options.Seed);
        if (!IsMain)
        {
            progress = null;
        }

        int totalSteps = TotalSteps(plan);
        var schedule = new LearningRateSchedule(Options.Scheduler, Options.LearningRate, Options.WarmupSteps, totalSteps);
        var parameters = model.TrainableParameters;
        if (parameters.Count == 0)
        {
            throw new SharpTuneException("the model has no trainable parameters (no LoRA targets matched?)");
        }

        var tensors = parameters.Select(p => (Tensor)p.Parameter).ToArray();
        using var optimizer = new AdamWOptimizer(parameters.Select(p => (p.Name, (Tensor)p.Parameter)), Options.OptimizerKind,
            Options.AdamBeta1, Options.AdamBeta2, Options.AdamEpsilon, Options.WeightDecay);
        var scaler = new LossScaler(model.ComputeDtype == ScalarType.Float16);
        if (IsMain)
        {
            Directory.CreateDirectory(Options.OutputDir);
        }

        string logPath = Path.Combine(Options.OutputDir, LogFileName);
        var history = new List<TrainingStepMetrics>();
        int startStep = 0;
        string? lastCheckpoint = null;
        if (Options.Resume && TrainingCheckpoint.FindLatest(Options.OutputDir) is { } latest)
        {
            var state = TrainingCheckpoint.Load(latest, model, optimizer, scaler);
            if (state.Seed != Options.Seed)
            {
                throw new SharpTuneException($"{latest}: was trained with seed {state.Seed}, this run has seed {Options.Seed}; a resumed run needs the same seed");
            }

            startStep = state.Step;
            lastCheckpoint = latest;
            history.AddRange(ReadLog(logPath).Where(m => m.Step <= startStep));
        }

        // Every rank starts from rank 0's adapter weights (equal by seed anyway; this makes it a guarantee).
        synchronizer?.BroadcastParameters(tensors);
        using var overlap = OverlappedReduction.TryCreate(synchronizer, parameters, Options);
        if (IsMain)
        {
            WriteLog(logPath, history);
        }

        using var meter = model.Device.type == DeviceType.CUDA
            ? new GpuMemoryMeter(GpuMemoryMeter.NvmlIndexOfCudaDevice(model.Device.index < 0 ? 0 : model.Device.index, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")))
            : null;
        using var activationOffload = Options.OffloadMlpLayers > 0 && Options.GradientCheckpointing != GradientCheckpointing.Off
            ? ActivationOffload.For(model.Device, Options.OffloadMlpLayers)
            : null;
        model.SetTraining(true);
        progress?.Report(new OperationProgress("train", startStep, totalSteps, "step", startStep > 0 ? $"resumed at step {startStep}" : null));
        int? checkpointLayers = Options.CheckpointLayerCount;
        for (int step = startStep; step < totalSteps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var metrics = RunStep(step, plan, schedule, optimizer, scaler, tensors, meter, lastCheckpoint, overlap, checkpointLayers, activationOffload);
            if (step == startStep && Options.CheckpointLayersAuto && Options.GradientCheckpointing != GradientCheckpointing.Off)
            {
                checkpointLayers = ChooseCheckpointLayers(metrics, progress, totalSteps);
                // Fewer checkpointed layers offload less: the first step's pinned buffers beyond that are given back.
                if (checkpointLayers is { } n && n < (model.Architecture?.NumHiddenLayers ?? int.MaxValue))
                {
                    activationOffload?.ReleaseIdleHostMemory();
                }
            }

            if (step == startStep && activationOffload is not null)
            {
                progress?.Report(new OperationProgress("train", step + 1, totalSteps, "step",
                    ActivationOffload.Describe(activationOffload.Layers, activationOffload.BytesSentLastForward)));
            }

            history.Add(metrics);
            if (IsMain)
            {
                AppendLog(logPath, metrics);
            }

            progress?.Report(new OperationProgress("train", step + 1, totalSteps, "step",
                $"loss {metrics.Loss:0.0000}  lr {metrics.LearningRate:0.00e+0}  gnorm {metrics.GradNorm:0.000}  {metrics.TokensPerSecond:0} tok/s  mem {GpuMemoryMeter.Format(metrics.PeakGpuMemoryBytes)}"));
            bool last = step + 1 == totalSteps;
            if (IsMain && (last || (Options.SaveSteps > 0 && (step + 1) % Options.SaveSteps == 0)))
            {
                lastCheckpoint = TrainingCheckpoint.Save(Options.OutputDir, step + 1, model, optimizer, scaler, Options.Seed);
                TrainingCheckpoint.Prune(Options.OutputDir, Options.SaveTotalLimit);
            }
        }

        string adapterDir = Path.Combine(Options.OutputDir, AdapterDirectoryName);
        if (IsMain)
        {
            SaveAdapterAtomically(adapterDir);
        }

        // No rank reports success before rank 0 has written the adapter.
        synchronizer?.Barrier();
        model.SetTraining(false);
        return new TrainingResult(history, adapterDir, startStep, meter?.PeakBytes, checkpointLayers, activationOffload?.BytesSentLastForward);
    }

    /// <summary>
    /// <c>checkpoint_layers: auto</c>, after a step that checkpointed every layer: how many of the first layers stay
    /// checkpointed so that the rest's activations fit in the GPU's free memory as this process's CUDA context sees it
    /// (<see cref="KeptLayerBudget"/>, sized for the longest micro-batch the run can have). Every layer stays
    /// checkpointed where the memory or the architecture is not known (no CUDA driver, CPU).
    /// </summary>
    private int? ChooseCheckpointLayers(TrainingStepMetrics first, IProgress<OperationProgress>? progress, int totalSteps)
    {
        var memory = model.Device.type == DeviceType.CUDA ? Kernels.Cuda.CudaDeviceMemory.TryRead(model.Device.index < 0 ? 0 : model.Device.index) : null;
        if (model.Architecture is not { } config || memory is not { } m)
        {
            progress?.Report(new OperationProgress("train", first.Step, totalSteps, "step", "checkpoint_layers auto: GPU memory or architecture unknown, every layer stays checkpointed"));
            return null;
        }

        // The fused LoRA MLP node runs on CUDA with the kernels on, all three MLP projections adapted and no dropout.
        bool fusedMlp = Kernels.FusedKernels.Enabled && Options.LoraDropout == 0
            && Models.Layers.Mlp.ProjectionNames.All(Options.TargetModules.Contains);
        long bytesPerToken = KeptLayerBudget.BytesPerToken(config, model.ComputeDtype, fusedMlp, dropout: Options.LoraDropout > 0);
        long tokens = (long)Options.BatchSize * Options.MaxSequenceLength;
        long measured = first.Tokens / Options.GradientAccumulation; // real tokens: at most the padded micro-batch
        int layers = config.NumHiddenLayers;
        // The budget counts this process as NVML does; without an NVML reading, everything in use on the device counts.
        long used = first.PeakGpuMemoryBytes ?? m.Total - m.Free;
        long? budgetLeft = Options.GpuMemoryBudgetGib is { } gib ? (long)(gib * (1L << 30)) - used : null;
        int checkpointed = KeptLayerBudget.CheckpointedLayers(m.Free, m.Total, bytesPerToken, KeptLayerBudget.CheckpointBytesPerToken(config, model.ComputeDtype),
            tokens, measured, layers, budgetLeft);
        progress?.Report(new OperationProgress("train", first.Step, totalSteps, "step",
            $"checkpoint_layers auto: the last {layers - checkpointed} of {layers} layers keep their activations (~{GpuMemoryMeter.Format((long)(bytesPerToken * tokens * KeptLayerBudget.Margin))} each; {GpuMemoryMeter.Format(m.Free)} free{(budgetLeft is { } left ? $", {GpuMemoryMeter.Format(Math.Max(0, left))} left of the {Options.GpuMemoryBudgetGib:0.##} GiB budget" : "")})"));
        return checkpointed;
    }

    private TrainingStepMetrics RunStep(int step, BatchPlan plan, LearningRateSchedule schedule, AdamWOptimizer optimizer, LossScaler scaler,
        Tensor[] parameters, GpuMemoryMeter? meter, string? lastCheckpoint, OverlappedReduction? overlap, int? checkpointLayers, ActivationOffload? activationOffload)
    {
        var clock = Stopwatch.StartNew();
        StepTrace.BeginStep(step);
        // The step's global micro-batches (for token counts) and this rank's shards of them (to compute on).
        var batches = Enumerable.Range(0, Options.GradientAccumulation).Select(m => plan.Batch((long)step * Options.GradientAccumulation + m)).ToArray();
        var shards = WorldSize == 1 ? batches
            : Enumerable.Range(0, batches.Length).Select(m => plan.Batch((long)step * Options.GradientAccumulation + m, synchronizer!.Rank, WorldSize)).ToArray();
        long targetTokens = Math.Max(1, batches.Sum(b => (long)b.TargetTokens));
        double dataSeconds = clock.Elapsed.TotalSeconds;
        // Without loss scaling nothing on the host needs a value from the GPU before the update: the loss and the
        // gradient norm stay on the device and are read once the optimizer step is queued, so the host queues
        // clipping and the update while the GPU still runs the backward pass. Loss scaling (fp16) has to check the
        // gradients before it decides to skip a step, and ranks sum the loss on the host: both read it first.
        bool deferReads = !scaler.Enabled && WorldSize == 1;
        using var stepScope = NewDisposeScope();
        Tensor? deviceLoss = null;
        double lossSum = 0;
        try
        {
            for (int micro = 0; micro < shards.Length; micro++)
            {
                using var scope = NewDisposeScope();
                var (ids, labels) = shards[micro].ToTensors(model.Device);
                StepTrace.Mark("micro-batch on the device");
                long seed = MicroBatchSeed(step, micro);
                // In the last micro-batch each layer's gradients are final when its backward ends: reduce them then.
                var hidden = model.ForwardHidden(ids, Options.GradientCheckpointing, seed, micro == shards.Length - 1 ? overlap?.LayerBackwardDone : null, checkpointLayers,
                    activationOffload);
                var sum = CausalLmLoss.Sum(model.LmHead, hidden, labels, Options.LossChunkTokens, Options.GradientCheckpointing != GradientCheckpointing.Off && !_lmHeadTrainable);
                StepTrace.Mark("loss forward");
                (sum * (scaler.Scale / targetTokens)).backward();
                BackwardResults.ReleaseCurrentThread();
                activationOffload?.EndMicroBatch();
                StepTrace.Mark("backward");
                if (deferReads)
                {
                    var detached = sum.detach();
                    deviceLoss = (deviceLoss is null ? detached : deviceLoss + detached).MoveToOuterDisposeScope();
                }
                else
                {
                    lossSum += sum.item<float>();
                }
            }
        }
        catch (ExternalException e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
        {
            throw new SharpTuneException(
                $"out of GPU memory at step {step + 1} (batch {Options.BatchSize} x {shards.Max(b => b.Length)} tokens): lower batch_size or max_sequence_length, " +
                $"raise gradient_accumulation instead, or use gradient_checkpointing: on/offload (now {Options.GradientCheckpointing.ToString().ToLowerInvariant()})" +
                (checkpointLayers is { } n && Options.GradientCheckpointing != GradientCheckpointing.Off
                    ? $"; only the first {n} layers are checkpointed ({(Options.CheckpointLayersAuto ? "chosen by checkpoint_layers: auto" : "checkpoint_layers")}): set checkpoint_layers higher"
                    : ""), e);
        }

        double computeEnd = clock.Elapsed.TotalSeconds;
        if (synchronizer is { WorldSize: > 1 } sync)
        {
            // Each rank divided its loss by the global token count, so the sum over ranks is the step's gradient.
            if (overlap is not null)
            {
                overlap.Finish();
            }
            else
            {
                sync.AllReduceGradients(parameters, 1.0);
            }

            lossSum = sync.SumOverRanks(lossSum);
        }

        double syncEnd = clock.Elapsed.TotalSeconds;
        StepTrace.Mark(deferReads ? "gradients ready (loss not read yet)" : "gradients summed over ranks, loss read");
        void ThrowIfNotFinite(string what, double value)
        {
            if (!double.IsFinite(value))
            {
                throw Diverged(step, what, value, lastCheckpoint);
            }
        }

        double loss = lossSum / targetTokens;
        if (!deferReads)
        {
            ThrowIfNotFinite("loss", loss);
        }

        bool finite = scaler.UnscaleAndCheck(parameters);
        double gradNorm = double.NaN;
        double lr = schedule.At(step);
        Tensor? deviceNorm = null;
        if (deferReads)
        {
            // On CUDA with kernels on: two launches for the norm and clip factor, and one AdamW launch per kind of
            // tensor that applies the factor and clears the gradients as it reads them.
            deviceNorm = GradientClipping.ClipByGlobalNormOnDevice(parameters, Options.MaxGradNorm, out var pendingScale);
            StepTrace.Mark("gradients clipped (norm not read yet)");
            optimizer.Step(lr, pendingScale, zeroGradients: true);
            pendingScale?.Dispose();
        }
        else
        {
            if (finite)
            {
                gradNorm = GradientClipping.ClipByGlobalNorm(parameters, Options.MaxGradNorm);
                if (!scaler.Enabled)
                {
                    ThrowIfNotFinite("gradient norm", gradNorm);
                }

                finite = double.IsFinite(gradNorm);
            }

            StepTrace.Mark("gradients unscaled and clipped");
            if (finite)
            {
                optimizer.Step(lr, gradientScale: null, zeroGradients: true);
            }
            else
            {
                optimizer.ZeroGrad();
            }
        }

        StepTrace.Mark("optimizer");
        if (deferReads)
        {
            // A non-finite loss or norm is found after the update was applied; the run stops here, and the checkpoints
            // on disk are from before it.
            loss = deviceLoss is null ? 0 : deviceLoss.item<float>() / targetTokens;
            gradNorm = deviceNorm!.item<float>();
            ThrowIfNotFinite("loss", loss);
            ThrowIfNotFinite("gradient norm", gradNorm);
        }

        if (model.Device.type == DeviceType.CUDA)
        {
            cuda.synchronize(model.Device);
        }

        StepTrace.EndStep();

        meter?.Sample();
        double seconds = clock.Elapsed.TotalSeconds;
        long tokens = batches.Sum(b => (long)b.RealTokens);
        return new TrainingStepMetrics(step + 1, loss, lr, gradNorm, tokens, tokens / Math.Max(seconds, 1e-9), seconds, meter?.PeakBytes, Skipped: !finite)
        {
            Phases = new StepPhases(dataSeconds, computeEnd - dataSeconds, syncEnd - computeEnd, seconds - syncEnd),
        };
    }

    /// <summary>The seed of one micro-batch's dropout masks: a function of (seed, step, micro-batch) only.</summary>
    private long MicroBatchSeed(int step, int micro) =>
        (long)((ulong)Options.Seed * 0x9E3779B97F4A7C15UL ^ ((ulong)step * 1_000_003UL + (ulong)micro) * 0xBF58476D1CE4E5B9UL) & 0x3FFF_FFFF_FFFF_0000L;

    private static SharpTuneException Diverged(int step, string what, double value, string? lastCheckpoint) =>
        new($"training diverged: {what} is {value} at step {step + 1}; stopped. " +
            (lastCheckpoint is null ? "No checkpoint was written yet. " : $"The last good checkpoint is {lastCheckpoint} (continue with --resume). ") +
            "Try a lower learning_rate, more warmup_steps, max_grad_norm 1.0, or bf16 instead of fp16.");

    private void SaveAdapterAtomically(string adapterDir)
    {
        string temp = adapterDir + ".tmp";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        model.SaveAdapter(temp);
        if (Directory.Exists(adapterDir))
        {
            Directory.Delete(adapterDir, recursive: true);
        }

        Directory.Move(temp, adapterDir);
    }

    /// <summary>The steps in a <see cref="LogFileName"/> file (none when it does not exist).</summary>
    public static IEnumerable<TrainingStepMetrics> ReadLog(string path) =>
        !File.Exists(path) ? []
        : File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<TrainingStepMetrics>(l)!);

    private static void WriteLog(string path, IEnumerable<TrainingStepMetrics> lines)
    {
        string temp = path + ".tmp";
        File.WriteAllLines(temp, lines.Select(m => JsonSerializer.Serialize(m)));
        File.Move(temp, path, overwrite: true);
    }

    private static void AppendLog(string path, TrainingStepMetrics metrics) => File.AppendAllText(path, JsonSerializer.Serialize(metrics) + "\n");
}
