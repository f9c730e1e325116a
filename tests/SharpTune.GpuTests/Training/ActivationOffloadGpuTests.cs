using SharpTune.GpuTests.Kernels;
using SharpTune.Kernels.Cuda;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Training;

/// <summary>
/// <see cref="ActivationOffload"/> with the CUDA copier: a bf16 Llama whose checkpointed layers send their MLP's gate
/// and up outputs to pinned host memory must accumulate, over several micro-batches that reuse the host buffers, the
/// gradients of the same model without offload. The layers are wide and cheap (intermediate 4096, 2 x 1024 tokens),
/// so the copies (16 MiB each) take longer than the compute between them: a missing order between the copy stream
/// and the compute stream, or a block the allocator hands out while a copy still uses it, shows as other values
/// (each micro-batch has other tokens, so stale data differs too). The in-flight limit is varied from "the compute
/// stream waits for each copy out at once" to "never waits".
/// </summary>
public sealed class ActivationOffloadGpuTests(ITestOutputHelper output)
{
    private const int Layers = 4;
    private const int MicroBatches = 3;
    private const long Tokens = 2 * 1024;
    private const long Intermediate = 4096;

    [Theory]
    [InlineData(Layers, CudaHostActivationCopy.DefaultMaxSendingBytes)]
    [InlineData(2, CudaHostActivationCopy.DefaultMaxSendingBytes)]
    [InlineData(Layers, 0L)]
    [InlineData(Layers, long.MaxValue)]
    public void Offloaded_mlp_activations_give_the_gradients_of_the_plain_checkpointed_model(int offloaded, long maxSendingBytes)
    {
        _ = CudaFixture.Runtime;
        var config = Config();
        var batches = Enumerable.Range(0, MicroBatches)
            .Select(m => randint(0, config.VocabSize, [2, Tokens / 2], dtype: ScalarType.Int64, generator: new Generator((ulong)(100 + m))).to(CUDA).DetachFromDisposeScope())
            .ToArray();

        var (plain, _) = Gradients(config, batches, offload: null);
        var (again, _) = Gradients(config, batches, offload: null);
        using var offload = new ActivationOffload(new CudaHostActivationCopy(CUDA, maxSendingBytes), offloaded);
        var (withOffload, sent) = Gradients(config, batches, offload);

        long expected = offloaded * Tokens * ValuesPerToken(config) * 2; // bf16
        Assert.Equal(Enumerable.Repeat(expected, MicroBatches), sent);
        double noise = Worst(plain, again), offloadDifference = Worst(plain, withOffload);
        output.WriteLine($"{offloaded} of {Layers} layers offloaded, in-flight limit {maxSendingBytes}: largest gradient difference " +
            $"{offloadDifference:E2} of each tensor's scale (two runs without offload: {noise:E2}); {expected >> 20} MiB sent per micro-batch");
        Assert.Contains(plain, g => g.Any(v => v != 0));
        // This model's step is bit-deterministic on the GPU (two runs without offload agree exactly), and what comes back
        // is what the recompute would make: any difference is a copy that was not ordered.
        Assert.Equal(0, noise);
        Assert.Equal(0, offloadDifference);
    }

    [Fact]
    public void Micro_batches_of_varying_length_give_the_same_gradients_and_pin_only_the_longest_ones_buffers()
    {
        // Shorter micro-batches reuse the longer ones' host buffers; a longer one replaces the short buffers.
        _ = CudaFixture.Runtime;
        var config = Config();
        long[] lengths = [256, 1024, 768, 512];
        var batches = lengths
            .Select((length, m) => randint(0, config.VocabSize, [2, length], dtype: ScalarType.Int64, generator: new Generator((ulong)(200 + m))).to(CUDA).DetachFromDisposeScope())
            .ToArray();

        var (plain, _) = Gradients(config, batches, offload: null);
        var copy = new CudaHostActivationCopy(CUDA);
        using var offload = new ActivationOffload(copy, Layers);
        var (withOffload, sent) = Gradients(config, batches, offload);

        Assert.Equal(lengths.Select(length => Layers * 2 * length * ValuesPerToken(config) * 2), sent);
        // Per layer: gate and up of the longest micro-batch (2 x 1024 tokens, bf16).
        long longest = Layers * 2 * PinnedBufferPool.RoundUp(2 * 1024 * Intermediate * 2);
        output.WriteLine($"pinned {copy.PinnedBytes >> 20} MiB ({2 * Layers} buffers of the longest micro-batch: {longest >> 20} MiB); " +
            $"largest gradient difference {Worst(plain, withOffload):E2}");
        Assert.Equal(longest, copy.PinnedBytes);
        Assert.Equal(0, Worst(plain, withOffload));
    }

    [Fact]
    public void Training_with_gradient_accumulation_gives_the_same_losses_and_reports_what_it_sent()
    {
        // The trainer path: SftTrainer with two micro-batches per step, three steps, AdamW; the offload is the trainer's own.
        _ = CudaFixture.Runtime;
        var config = Config();
        var samples = Benchmarks.TrainingBenchmark.RandomSamples(config.VocabSize, 12, 512, seed: 3);
        TrainingResult Train(int offloaded)
        {
            string directory = Path.Combine(Path.GetTempPath(), $"sharptune-offload-{Guid.NewGuid():N}");
            try
            {
                using var model = Model(config);
                var options = new TrainingOptions
                {
                    OutputDir = directory, Quantization = "none", BatchSize = 2, GradientAccumulation = 2, MaxSteps = 3, WarmupSteps = 0,
                    Optimizer = "adamw", MaxSequenceLength = 512, CompletionOnlyLoss = false, SaveSteps = 0, OffloadMlpLayers = offloaded,
                };
                return KernelComparison.With(true, () => new SftTrainer(model, samples, options).Train(null, TestContext.Current.CancellationToken));
            }
            finally
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        }

        var plain = Train(0);
        var offloaded = Train(Layers);
        output.WriteLine($"losses without offload {string.Join(", ", plain.Steps.Select(s => s.Loss))}; with {string.Join(", ", offloaded.Steps.Select(s => s.Loss))}; " +
            $"{offloaded.OffloadedBytes} bytes sent by the last micro-batch");
        Assert.Null(plain.OffloadedBytes);
        Assert.Equal(Layers * 2 * 512 * ValuesPerToken(config) * 2, offloaded.OffloadedBytes);
        Assert.Equal(plain.Steps.Select(s => s.Loss), offloaded.Steps.Select(s => s.Loss));
    }

    [Fact]
    public void Activations_fetched_and_never_received_are_given_up_without_growing_memory()
    {
        // A region whose backward fetches (and, through the prefetch, its predecessor's) but whose recompute takes
        // nothing: the copies back are discarded while they may still run.
        _ = CudaFixture.Runtime;
        using var memory = new CudaMemoryInUse();
        var copy = new CudaHostActivationCopy(CUDA);
        using var offload = new ActivationOffload(copy, Layers);
        void Round()
        {
            using var scope = NewDisposeScope();
            var regions = Enumerable.Range(0, Layers).Select(i => offload.RegionFor(i, Layers)!).ToArray();
            foreach (var region in regions)
            {
                using (region.Record())
                {
                    ActivationOffloadRegion.Send(randn([2048, 4096], ScalarType.BFloat16, CUDA), randn([2048, 4096], ScalarType.BFloat16, CUDA));
                }
            }

            foreach (var region in regions.Reverse())
            {
                using (region.Replay())
                {
                    Assert.Equal(2, region.Pending);
                }

                Assert.Equal(0, region.Pending);
            }

            offload.EndMicroBatch();
        }

        // Sent tensors whose copies have finished are freed at the next poll; Finish frees them all, so each reading
        // counts only what a leak would hold.
        var readings = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            Round();
            copy.Finish();
            readings.Add(memory.Bytes());
        }

        long pinned = copy.PinnedBytes;
        Round();
        copy.Finish();
        readings.Add(memory.Bytes());
        output.WriteLine($"GPU memory after each round: {string.Join(", ", readings.Select(r => $"{r >> 20} MiB"))}; pinned {pinned >> 20} -> {copy.PinnedBytes >> 20} MiB");
        Assert.True(readings[^1] - readings[1] < 24L << 20, $"GPU memory grew by {(readings[^1] - readings[1]) >> 20} MiB over 4 rounds");
        Assert.Equal(pinned, copy.PinnedBytes);
    }

    [Fact]
    public void Micro_batch_after_micro_batch_the_gpu_memory_does_not_grow()
    {
        _ = CudaFixture.Runtime;
        var config = Config();
        var ids = randint(0, config.VocabSize, [2, Tokens / 2], dtype: ScalarType.Int64, generator: new Generator(7)).to(CUDA).DetachFromDisposeScope();
        using var offload = ActivationOffload.For(CUDA, Layers);
        using var memory = new CudaMemoryInUse();
        using var model = Model(config);
        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using var scope = NewDisposeScope();
                Backward(model, ids, offload);
            }
        }

        Run(2);
        long before = memory.Bytes();
        Run(6);
        long after = memory.Bytes();
        output.WriteLine($"GPU memory ({memory.Source}) after 2 micro-batches {before >> 20} MiB, after 6 more {after >> 20} MiB");
        Assert.True(after - before < 24L << 20, $"GPU memory grew by {(after - before) >> 20} MiB over 6 micro-batches with offload");
    }

    /// <summary>Gate and up values per token.</summary>
    private static long ValuesPerToken(ModelConfig config) => 2L * config.IntermediateSize;

    private static ModelConfig Config() =>
        TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Small, 512, 1, [2], tieWordEmbeddings: false)
            with { HiddenSize = 512, HeadDim = 64, IntermediateSize = (int)Intermediate, NumHiddenLayers = Layers };

    private static LoraCausalLM Model(ModelConfig config)
    {
        var model = new LoraCausalLM(TinyModelFactory.CreateModel(config, 5, ScalarType.BFloat16, CUDA), new LoraConfig { Rank = 8, Alpha = 16 });
        using (no_grad())
        {
            var generator = new Generator(11); // drawn on the CPU: the same B in every run
            foreach (var (_, parameter) in model.TrainableParameters.Where(p => p.Name.Contains("lora_B", StringComparison.Ordinal)))
            {
                parameter.copy_(randn(parameter.shape, generator: generator) * 0.05);
            }
        }

        model.SetTraining(true);
        return model;
    }

    private static void Backward(LoraCausalLM model, Tensor ids, ActivationOffload? offload)
    {
        var hidden = model.ForwardHidden(ids, GradientCheckpointing.On, 42, activationOffload: offload);
        CausalLmLoss.Sum(model.LmHead, hidden, ids.roll(-1, 1), chunkTokens: 1024, checkpointChunks: true).backward();
        BackwardResults.ReleaseCurrentThread();
        offload?.EndMicroBatch();
    }

    /// <summary>The LoRA gradients summed over the micro-batches, and the bytes each micro-batch sent.</summary>
    private static (float[][] Gradients, long[] Sent) Gradients(ModelConfig config, Tensor[] batches, ActivationOffload? offload) => KernelComparison.With(true, () =>
    {
        using var scope = NewDisposeScope();
        using var model = Model(config);
        Assert.True(model.Model.Layers[0].Mlp.CanFuseLora, "the fused LoRA MLP does not apply");
        var sent = new List<long>();
        foreach (var ids in batches)
        {
            using var step = NewDisposeScope();
            Backward(model, ids, offload);
            sent.Add(offload?.BytesSentLastForward ?? 0);
        }

        return (model.TrainableParameters.Select(p => p.Parameter.grad!.to(ScalarType.Float32).cpu().data<float>().ToArray()).ToArray(), sent.ToArray());
    });

    /// <summary>The largest |a - b| over all tensors, each relative to the largest |a| of its tensor.</summary>
    private static double Worst(float[][] a, float[][] b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double scale = a[i].Max(Math.Abs) + 1e-12;
            worst = Math.Max(worst, a[i].Zip(b[i], (x, y) => Math.Abs(x - y) / scale).Max());
        }

        return worst;
    }
}
