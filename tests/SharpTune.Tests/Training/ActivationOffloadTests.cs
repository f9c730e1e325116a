using SharpTune.Kernels.Cuda;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Layers;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Stages;
using SharpTune.Tests.Lora;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

/// <summary>
/// <see cref="ActivationOffload"/> through a checkpointed fused LoRA MLP on the CPU, with the reference copier
/// (<see cref="SynchronousHostActivationCopy"/>): the recompute takes back the gate and up outputs the forward sent,
/// uses them instead of computing them, and the gradients are those of the plain checkpointed region. The CUDA
/// copier's ordering is checked on the GPU (ActivationOffloadGpuTests).
/// </summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class ActivationOffloadTests
{
    private const int Hidden = 24;
    private const int Intermediate = 64;

    [Theory]
    [InlineData(LoraBaseKind.Linear)]
    [InlineData(LoraBaseKind.Nf4WithBias)]
    public void The_recompute_takes_back_what_the_forward_sent_and_the_gradients_are_unchanged(LoraBaseKind kind)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(21 + (ulong)kind);
        using var mlp = LoraMlp(kind, generator);
        var x = randn([2, 5, Hidden], generator: generator);
        var upstream = randn([2, 5, Hidden], generator: generator);

        var plain = Run(mlp, x, upstream, copy: null);
        var copy = new CountingCopy();
        var offloaded = Run(mlp, x, upstream, copy);

        Assert.Equal((2, 2, 0), (copy.Sent, copy.Received, copy.Discarded));
        Assert.Equal([[2, 5, Intermediate], [2, 5, Intermediate]], copy.SentShapes);
        Assert.True(offloaded.GradX.allclose(plain.GradX, rtol: 0, atol: 0), "grad x differs");
        for (int i = 0; i < plain.Adapters.Length; i++)
        {
            Assert.True(offloaded.Adapters[i].allclose(plain.Adapters[i], rtol: 0, atol: 0), $"adapter gradient {i} differs");
        }
    }

    [Fact]
    public void The_recompute_uses_the_values_that_came_back_instead_of_computing_them()
    {
        // A copier that changes what it gives back: if the recompute ran the gate and up GEMMs again, the gradients
        // would not see the change.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(22);
        using var mlp = LoraMlp(LoraBaseKind.Linear, generator);
        var x = randn([3, Hidden], generator: generator);
        var upstream = randn([3, Hidden], generator: generator);

        var plain = Run(mlp, x, upstream, copy: null);
        var tampered = Run(mlp, x, upstream, new CountingCopy(received => received.add_(0.5)));

        Assert.False(tampered.GradX.allclose(plain.GradX, rtol: 1e-3, atol: 1e-5), "the recompute did not use the activations that came back");
    }

    [Fact]
    public void Of_two_checkpointed_layers_with_one_offloading_only_the_first_sends_and_plain_forwards_send_nothing()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(23);
        using var mlp = LoraMlp(LoraBaseKind.Linear, generator);
        var x = randn([3, Hidden], generator: generator);
        var copy = new CountingCopy();
        using var offload = new ActivationOffload(copy, layers: 1);

        // Outside any checkpointed region: evaluation and a forward with grad.
        using (no_grad())
        {
            _ = mlp.ForwardFusedLora(x);
        }

        mlp.ForwardFusedLora(x.detach().requires_grad_(true)).sum().backward();
        BackwardResults.ReleaseCurrentThread();
        Assert.Equal(0, copy.Sent);

        // Two checkpointed layers (the same MLP twice), one offloading: layer 0.
        var input = x.detach().requires_grad_(true);
        var hidden = input;
        for (int layer = 0; layer < 2; layer++)
        {
            hidden = CheckpointedFunction.Run(h => mlp.ForwardFusedLora(h), hidden, GradientCheckpointing.On, seed: layer,
                recompute: h => mlp.ForwardFusedLora(h, outputValueNeeded: false), activations: offload.RegionFor(layer, checkpointed: 2));
        }

        Assert.Equal(2, copy.Sent);
        hidden.sum().backward();
        BackwardResults.ReleaseCurrentThread();
        offload.EndMicroBatch();
        Assert.Equal((2, 2, 0), (copy.Sent, copy.Received, copy.Discarded));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_fetch_or_a_receive_that_fails_gives_the_region_s_activations_up(bool fetchFails)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var copy = new CountingCopy { FailFetch = fetchFails, FailReceive = !fetchFails };
        using var offload = new ActivationOffload(copy, layers: 1);
        var region = offload.RegionFor(0, 1)!;
        using (region.Record())
        {
            ActivationOffloadRegion.Send(ones(2, 3), ones(2, 3));
        }

        if (fetchFails)
        {
            Assert.Throws<IOException>(() => region.Replay());
        }
        else
        {
            using (region.Replay())
            {
                Assert.Throws<IOException>(() => ActivationOffloadRegion.TryReceive([2, 3]));
            }
        }

        Assert.Equal((0, 2, 0), (copy.Received, copy.Discarded, region.Pending));
        offload.EndMicroBatch();
        Assert.Equal(2, copy.Discarded);
    }

    [Fact]
    public void A_forward_whose_backward_never_runs_gives_its_activations_up_at_the_end_of_the_micro_batch()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(24);
        using var mlp = LoraMlp(LoraBaseKind.Linear, generator);
        var x = randn([3, Hidden], generator: generator).requires_grad_(true);
        var copy = new CountingCopy();
        using var offload = new ActivationOffload(copy, layers: 1);

        var region = offload.RegionFor(0, 1)!;
        _ = CheckpointedFunction.Run(h => mlp.ForwardFusedLora(h), x, GradientCheckpointing.On, seed: 1, activations: region);
        Assert.Equal((2, 2), (copy.Sent, region.Pending));
        Assert.Equal(2 * 3 * Intermediate * sizeof(float), CountingCopyBytes(copy));

        offload.EndMicroBatch();
        Assert.Equal((2, 0, 0), (copy.Discarded, copy.Received, region.Pending));
        Assert.Equal(2 * 3 * Intermediate * sizeof(float), offload.BytesSentLastForward);
    }

    [Fact]
    public void Offloads_picks_k_of_n_layers_spread_from_the_first_and_the_last_only_when_all_do()
    {
        for (int n = 1; n <= 40; n++)
        {
            for (int k = 0; k <= n + 2; k++)
            {
                var picked = Enumerable.Range(0, n).Where(i => ActivationOffload.Offloads(i, n, k)).ToArray();
                Assert.Equal(Math.Min(k, n), picked.Length);
                if (k == 0)
                {
                    continue;
                }

                Assert.Equal(0, picked[0]);
                Assert.Equal(k >= n, picked[^1] == n - 1);
                int widest = picked.Zip(picked.Skip(1), (a, b) => b - a).DefaultIfEmpty(1).Max();
                Assert.True(widest <= (n + k - 1) / k, $"{k} of {n}: a gap of {widest} layers");
            }
        }

        Assert.False(ActivationOffload.Offloads(-1, 4, 4));
        Assert.False(ActivationOffload.Offloads(4, 4, 4));
    }

    [Theory]
    [InlineData(1L, 2L << 20)]
    [InlineData(2L << 20, 2L << 20)]
    [InlineData(112L << 20, 112L << 20)] // 2 x 2048 tokens x 14336 x bf16, a Llama-3-8B gate output
    [InlineData((112L << 20) + 1, 120L << 20)]
    [InlineData((1L << 30) + 1, (1L << 30) + (128L << 20))]
    public void Pinned_buffers_are_rounded_up_to_an_eighth_of_a_power_of_two(long bytes, long pinned)
    {
        Assert.Equal(pinned, PinnedBufferPool.RoundUp(bytes));
        for (long n = 1; n < 1L << 34; n = n * 3 + 7)
        {
            long rounded = PinnedBufferPool.RoundUp(n);
            Assert.InRange(rounded, n, n + Math.Max(2L << 20, n / 8));
        }
    }

    [Fact]
    public void The_setting_is_checked_and_reaches_the_trainer()
    {
        Assert.Throws<SharpTuneException>(() => new TrainingOptions { OffloadMlpLayers = -1 }.Validated());
        var off = Assert.Throws<SharpTuneException>(() => new TrainingOptions { OffloadMlpLayers = 4, GradientCheckpointing = GradientCheckpointing.Off }.Validated());
        Assert.Contains("gradient checkpointing", off.Message);

        PipelineDefinition Parse(string training) =>
            PipelineLoader.Parse($"model: {{id: a/b}}\ndataset: {{file: x}}\ntraining:\n{training}", "p.yaml");
        Assert.Equal(20, TrainLoraStage.Options(Parse("  offload_mlp_layers: 20\n"), "/m", null, "/d", "/o").OffloadMlpLayers);
        Assert.Equal(0, TrainLoraStage.Options(Parse("  seed: 1\n"), "/m", null, "/d", "/o").OffloadMlpLayers);
        var error = Assert.Throws<PipelineConfigException>(() => Parse("  offload_mlp_layers: 8\n  gradient_checkpointing: false\n"));
        Assert.Contains("'training.offload_mlp_layers' needs gradient_checkpointing: true", error.Diagnostics.Single().ToString());
        error = Assert.Throws<PipelineConfigException>(() => Parse("  offload_mlp_layers: -2\n"));
        Assert.Contains("'training.offload_mlp_layers' must be between 0 and 1024", error.Diagnostics.Single().ToString());
    }

    private static long CountingCopyBytes(CountingCopy copy) => copy.SentShapes.Sum(s => s.Aggregate(1L, (a, b) => a * b) * sizeof(float));

    /// <summary>One checkpointed region around the fused MLP (offloading into <paramref name="copy"/> if given); grad x and the six adapter gradients.</summary>
    private static (Tensor GradX, Tensor[] Adapters) Run(Mlp mlp, Tensor x, Tensor upstream, CountingCopy? copy)
    {
        var adapters = new[] { mlp.GateProj, mlp.UpProj, mlp.DownProj }.Cast<LoraLinear>().SelectMany(l => new[] { l.LoraA, l.LoraB }).ToArray();
        foreach (var p in adapters)
        {
            p.grad = null;
        }

        using var offload = copy is null ? null : new ActivationOffload(copy, layers: 1);
        var input = x.detach().clone().requires_grad_(true);
        var y = CheckpointedFunction.Run(h => mlp.ForwardFusedLora(h), input, GradientCheckpointing.On, seed: 1,
            recompute: h => mlp.ForwardFusedLora(h, outputValueNeeded: false), activations: offload?.RegionFor(0, 1));
        y.backward([upstream]);
        BackwardResults.ReleaseCurrentThread();
        offload?.EndMicroBatch();
        return (input.grad!.clone(), [.. adapters.Select(p => p.grad!.clone())]);
    }

    private static Mlp LoraMlp(LoraBaseKind kind, Generator generator)
    {
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 64, 1, [2]) with { HiddenSize = Hidden, IntermediateSize = Intermediate };
        var mlp = new Mlp(config, ScalarType.Float32);
        foreach (var (name, inFeatures, outFeatures, rank) in new[] { ("gate_proj", Hidden, Intermediate, 4), ("up_proj", Hidden, Intermediate, 3), ("down_proj", Intermediate, Hidden, 2) })
        {
            mlp.ReplaceProjection(name, _ => LoraTestProjections.Create(kind, ScalarType.Float32, inFeatures, outFeatures, rank, 1.5, 0, generator,
                weightScale: 1 / Math.Sqrt(inFeatures), bScale: 0.6 / rank));
        }

        return mlp;
    }

    /// <summary>The reference copier, counting what passes through it; <c>onReceive</c> may change what comes back.</summary>
    private sealed class CountingCopy(Action<Tensor>? onReceive = null) : HostActivationCopy
    {
        private readonly SynchronousHostActivationCopy _inner = new(CPU);

        public int Sent { get; private set; }

        public int Received { get; private set; }

        public int Discarded { get; private set; }

        public List<long[]> SentShapes { get; } = [];

        public bool FailFetch { get; init; }

        public bool FailReceive { get; init; }

        public override HostActivation Send(Tensor tensor)
        {
            Sent++;
            SentShapes.Add(tensor.shape);
            return _inner.Send(tensor);
        }

        public override void Fetch(HostActivation activation)
        {
            if (FailFetch)
            {
                throw new IOException("the copy back failed");
            }

            _inner.Fetch(activation);
        }

        public override Tensor Receive(HostActivation activation)
        {
            if (FailReceive)
            {
                throw new IOException("the copy back failed");
            }

            Received++;
            var received = _inner.Receive(activation);
            onReceive?.Invoke(received);
            return received;
        }

        public override void Discard(HostActivation activation)
        {
            Discarded++;
            _inner.Discard(activation);
        }

        public override void Finish() => _inner.Finish();
    }
}
