using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Distributed.SelfTest;

/// <summary>
/// A small next-token model trained with a fixed global batch, the data split by <see cref="DistributedShardSampler"/>
/// and the gradients averaged by the <see cref="IGradientSynchronizer"/>: on 1 rank or on W ranks (global batch / W
/// each) the loss curve must be the same, up to float summation order. Each rank starts from different random
/// weights (seed + rank), so only <see cref="IGradientSynchronizer.BroadcastParameters"/> makes them agree.
/// Rank 0 prints "equivalence step S loss L tokens T seconds X" per step (the loss is the global batch's mean).
/// </summary>
public static class DataParallelEquivalenceRun
{
    public const int Vocabulary = 256;
    public const int Width = 128;
    public const int SequenceLength = 64;
    public const int Rows = 512;
    public const int GlobalBatch = 16;

    public static IReadOnlyList<double> Run(IGradientSynchronizer sync, int steps, TextWriter stdout, long seed = 3407)
    {
        if (GlobalBatch % sync.WorldSize != 0)
        {
            throw new SharpTuneException($"the global batch {GlobalBatch} does not split over {sync.WorldSize} ranks");
        }

        var device = sync.Device;
        using var data = MakeData(seed);
        torch.manual_seed(seed + sync.Rank);
        var parameters = new List<Parameter>
        {
            new(torch.randn(Vocabulary, Width, device: device) * 0.1, true),
            new(torch.randn(Width, Width, device: device) * (1.0 / Math.Sqrt(Width)), true),
            new(torch.zeros(Width, device: device), true),
            new(torch.randn(Width, Vocabulary, device: device) * (1.0 / Math.Sqrt(Width)), true),
        };
        var trainable = parameters.Cast<Tensor>().ToList();
        sync.BroadcastParameters(trainable);
        using var optimizer = torch.optim.AdamW(parameters, lr: 3e-3);
        int perRank = GlobalBatch / sync.WorldSize;
        var sampler = new DistributedShardSampler(Rows, sync.Rank, sync.WorldSize, seed);
        int stepsPerEpoch = sampler.SamplesPerRank / perRank;
        var losses = new List<double>();
        int[] order = [];
        for (int step = 1; step <= steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            int inEpoch = (step - 1) % stepsPerEpoch;
            if (inEpoch == 0)
            {
                order = sampler.Indices((step - 1) / stepsPerEpoch);
            }

            var rows = torch.tensor(order[(inEpoch * perRank)..((inEpoch + 1) * perRank)], dtype: int64);
            var batch = data.index_select(0, rows).to(device);
            var inputs = batch[.., ..^1];
            var targets = batch[.., 1..];
            var hidden = torch.nn.functional.gelu(parameters[0].index_select(0, inputs.reshape(-1)).matmul(parameters[1]) + parameters[2]);
            var logits = hidden.matmul(parameters[3]);
            var loss = torch.nn.functional.cross_entropy(logits, targets.reshape(-1));
            optimizer.zero_grad();
            loss.backward();
            sync.AllReduceGradients(trainable);
            optimizer.step();
            double global = sync.SumOverRanks(loss.item<float>()) / sync.WorldSize;
            losses.Add(global);
            if (device.type == DeviceType.CUDA)
            {
                torch.cuda.synchronize(device);
            }

            if (sync.IsMain)
            {
                stdout.WriteLine(FormattableString.Invariant(
                    $"equivalence step {step} loss {global:0.000000} tokens {GlobalBatch * (SequenceLength - 1)} seconds {clock.Elapsed.TotalSeconds:0.000000}"));
            }
        }

        return losses;
    }

    /// <summary>Token rows that follow t' = (5t + 3) mod V three times in four (learnable), made on the CPU from the seed alone.</summary>
    private static Tensor MakeData(long seed)
    {
        var generator = new torch.Generator((ulong)seed);
        var start = torch.randint(0, Vocabulary, [Rows, 1], dtype: int64, generator: generator);
        var noise = torch.randint(0, Vocabulary, [Rows, SequenceLength], dtype: int64, generator: generator);
        var keep = torch.rand([Rows, SequenceLength], generator: generator) < 0.75;
        var rows = new long[Rows, SequenceLength];
        var starts = start.data<long>().ToArray();
        var noiseValues = noise.data<long>().ToArray();
        var keepValues = keep.data<bool>().ToArray();
        for (int r = 0; r < Rows; r++)
        {
            long token = starts[r];
            for (int i = 0; i < SequenceLength; i++)
            {
                rows[r, i] = token;
                int at = r * SequenceLength + i;
                token = keepValues[at] ? (5 * token + 3) % Vocabulary : noiseValues[at];
            }
        }

        start.Dispose();
        noise.Dispose();
        keep.Dispose();
        return torch.tensor(rows, dtype: int64);
    }
}
