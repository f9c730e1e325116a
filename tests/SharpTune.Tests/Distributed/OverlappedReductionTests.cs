using SharpTune.Distributed;
using SharpTune.Distributed.Launch;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;

namespace SharpTune.Tests.Distributed;

/// <summary>
/// Two ranks in this process (threads, collectives through the rendezvous store) with <c>overlap_gradient_reduce</c>:
/// the layers' gradients are reduced as their backward ends, and the steps equal one process with twice the batch.
/// </summary>
[Collection(nameof(GlobalRandomCollection))]
public sealed class OverlappedReductionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptune-overlap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("base_model.model.model.layers.12.self_attn.q_proj.lora_A.weight", 12)]
    [InlineData("layers.0.up.lora_B.weight", 0)]
    [InlineData("base_model.model.lm_head.lora_A.weight", null)]
    [InlineData("model.sublayers.3.x", null)]
    public void Parameters_belong_to_the_layer_their_name_says(string name, int? layer) => Assert.Equal(layer, OverlappedReduction.LayerIndex(name));

    [Fact]
    public void Two_ranks_reducing_during_backward_take_the_steps_of_one_process_with_twice_the_batch()
    {
        SingleThreadedTorch.Initialize();
        var samples = TinyLoraLM.ArithmeticSamples(64);
        TrainingResult single;
        using (var model = new TinyLoraLM())
        {
            single = new SftTrainer(model, samples, Options("one", batch: 4, overlap: false)).Train(cancellation: TestContext.Current.CancellationToken);
        }

        int port = LocalLauncher.FreeLoopbackPort();
        var results = new TrainingResult[2];
        var marked = new int[2];
        var errors = new Exception?[2];
        var threads = Enumerable.Range(0, 2).Select(rank => new Thread(() =>
        {
            try
            {
                var environment = new DistributedEnvironment(rank, 2, rank, 2, "127.0.0.1", port, DistributedLauncherKind.None);
                using var sync = new CountingSynchronizer(DistributedTraining.Join(environment, CollectiveBackendKind.Store));
                using var model = new TinyLoraLM();
                results[rank] = new SftTrainer(model, samples, Options($"rank{rank}", batch: 2, overlap: true), sync).Train();
                marked[rank] = sync.MarkedBeforeFinish;
            }
            catch (Exception e)
            {
                errors[rank] = e;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a rank did not finish"));
        Assert.All(errors, e => Assert.Null(e));

        // 2 blocks x 2 LoRA layers x (A, B) = 8 parameters, all marked from the layers' backward, in each of 4 steps.
        Assert.Equal([32, 32], marked);
        foreach (var result in results)
        {
            Assert.Equal(single.Steps.Count, result.Steps.Count);
            for (int i = 0; i < single.Steps.Count; i++)
            {
                Assert.Equal(single.Steps[i].Loss, result.Steps[i].Loss, 1e-5);
                Assert.Equal(single.Steps[i].GradNorm, result.Steps[i].GradNorm, 1e-5);
            }
        }

        Assert.NotEqual(single.Steps[0].Loss, single.Steps[^1].Loss, 1e-3);
    }

    private TrainingOptions Options(string name, int batch, bool overlap) => new()
    {
        OutputDir = Path.Combine(_dir, name),
        BatchSize = batch,
        GradientAccumulation = 2,
        MaxSteps = 4,
        LearningRate = 1e-2,
        WarmupSteps = 1,
        MaxSequenceLength = 16,
        SaveSteps = 0,
        Optimizer = "adamw",
        GradientCheckpointing = GradientCheckpointing.On,
        OverlapGradientReduce = overlap,
    };

    /// <summary>Passes everything through and counts parameters marked ready before their reducer's Finish.</summary>
    private sealed class CountingSynchronizer(IGradientSynchronizer inner) : IGradientSynchronizer
    {
        private int _marked;

        public int MarkedBeforeFinish => _marked;

        public int Rank => inner.Rank;

        public int WorldSize => inner.WorldSize;

        public int LocalRank => inner.LocalRank;

        public bool IsMain => inner.IsMain;

        public DistributedEnvironment Environment => inner.Environment;

        public torch.Device Device => inner.Device;

        public void BroadcastParameters(IEnumerable<torch.Tensor> parameters) => inner.BroadcastParameters(parameters);

        public void AllReduceGradients(IEnumerable<torch.Tensor> parameters) => inner.AllReduceGradients(parameters);

        public void AllReduceGradients(IEnumerable<torch.Tensor> parameters, double scale) => inner.AllReduceGradients(parameters, scale);

        public IGradientReducer CreateReducer(IReadOnlyList<torch.Tensor> parameters, double? scale = null, long bucketBytes = GradientBucketPlan.DefaultBucketBytes) =>
            new CountingReducer(inner.CreateReducer(parameters, scale, bucketBytes), this);

        public double SumOverRanks(double value) => inner.SumOverRanks(value);

        public void Barrier() => inner.Barrier();

        public void ReportFailure(string message) => inner.ReportFailure(message);

        public void Dispose() => inner.Dispose();

        private sealed class CountingReducer(IGradientReducer reducer, CountingSynchronizer owner) : IGradientReducer
        {
            public void MarkReady(int parameterIndex)
            {
                owner._marked++;
                reducer.MarkReady(parameterIndex);
            }

            public void MarkReady(torch.Tensor parameter)
            {
                owner._marked++;
                reducer.MarkReady(parameter);
            }

            public void Finish() => reducer.Finish();

            public void Dispose() => reducer.Dispose();
        }
    }
}
