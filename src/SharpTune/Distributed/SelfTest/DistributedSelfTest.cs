using System.Diagnostics;
using SharpTune.Runtime;
using TorchSharp;

namespace SharpTune.Distributed.SelfTest;

/// <summary>
/// What each rank of <c>sharptune launch --selftest KIND</c> runs, reading its place from the environment:
/// <list type="bullet">
/// <item><c>store</c>: rendezvous, a sum through the store, then numbered barriers (no libtorch; fast). With a
/// <see cref="SelfTestFailure"/> one rank dies at a step, and the others must stop naming it.</item>
/// <item><c>collectives</c>: <see cref="IGradientSynchronizer"/> on CPU tensors through the store: broadcast,
/// bucketed gradient averaging (all at once and with buckets marked ready one by one), sums; exact checks.</item>
/// <item><c>nccl</c>: the same on this rank's GPU through NCCL, in float32 and bf16, then an all-reduce bandwidth
/// measurement.</item>
/// <item><c>equivalence</c>: <see cref="DataParallelEquivalenceRun"/>, a small model trained with the same global batch on
/// however many ranks were launched (NCCL on GPUs, the store on CPUs); compare the loss lines of 1 and N ranks.</item>
/// </list>
/// Returns the process exit code; prints "selftest KIND ok" lines on stdout and one error line on stderr.
/// </summary>
public static class DistributedSelfTest
{
    public static readonly IReadOnlyList<string> Kinds = ["store", "collectives", "nccl", "equivalence"];

    public static int RunRank(string kind, SelfTestFailure? failure, int steps, TextWriter stdout, TextWriter stderr, TorchRuntimeOptions? runtime = null)
    {
        var environment = DistributedEnvironment.FromEnvironment();
        return kind switch
        {
            "store" => RunStore(environment, failure, steps, stdout),
            "collectives" => RunCollectives(environment, CollectiveBackendKind.Store, failure, stdout, runtime),
            "nccl" => RunCollectives(environment, CollectiveBackendKind.Nccl, failure, stdout, runtime),
            "equivalence" => RunEquivalence(environment, steps, stdout, runtime),
            _ => throw new SharpTuneException($"unknown self-test '{kind}'; one of: {string.Join(", ", Kinds)}"),
        };
    }

    private static int RunStore(DistributedEnvironment environment, SelfTestFailure? failure, int steps, TextWriter stdout)
    {
        using var session = RendezvousSession.Join(environment, new RendezvousOptions { JoinTimeout = TimeSpan.FromSeconds(60), BarrierTimeout = TimeSpan.FromSeconds(60) });
        try
        {
            int rank = environment.Rank;
            session.Store.Set($"selftest/value/{rank}", BitConverter.GetBytes((long)(rank + 1)));
            session.Barrier();
            long sum = 0;
            for (int r = 0; r < environment.WorldSize; r++)
            {
                sum += BitConverter.ToInt64(session.Store.Get($"selftest/value/{r}", TimeSpan.FromSeconds(10)));
            }

            long expected = (long)environment.WorldSize * (environment.WorldSize + 1) / 2;
            if (sum != expected)
            {
                throw new SharpTuneException($"rank {rank}: the store sum is {sum}, expected {expected}");
            }

            stdout.WriteLine($"rank {rank} of {environment.WorldSize} joined ({environment.Launcher}); store sum {sum} ok");
            for (int step = 1; step <= steps; step++)
            {
                MaybeFail(failure, rank, step, stdout);
                session.Barrier();
                Thread.Sleep(20);
            }

            stdout.WriteLine($"selftest store ok: rank {rank} passed {steps} barriers");
            return 0;
        }
        catch (SharpTuneException e) when (e is not PeerFailedException)
        {
            session.ReportFailure(e.Message);
            throw;
        }
    }

    private static int RunEquivalence(DistributedEnvironment environment, int steps, TextWriter stdout, TorchRuntimeOptions? runtime)
    {
        TorchRuntime.Initialize(runtime);
        using var sync = DistributedTraining.Join(environment, CollectiveBackendKind.Auto, new RendezvousOptions { JoinTimeout = TimeSpan.FromSeconds(120) }, stdout);
        try
        {
            var losses = DataParallelEquivalenceRun.Run(sync, steps, stdout);
            stdout.WriteLine(FormattableString.Invariant($"selftest equivalence ok: rank {sync.Rank} of {sync.WorldSize} on {sync.Device}, loss {losses[0]:0.0000} -> {losses[^1]:0.0000}"));
            return 0;
        }
        catch (SharpTuneException e) when (e is not PeerFailedException)
        {
            sync.ReportFailure(e.Message);
            throw;
        }
    }

    private static int RunCollectives(DistributedEnvironment environment, CollectiveBackendKind backend, SelfTestFailure? failure, TextWriter stdout, TorchRuntimeOptions? runtime)
    {
        TorchRuntime.Initialize(runtime);
        using var sync = DistributedTraining.Join(environment, backend, new RendezvousOptions { JoinTimeout = TimeSpan.FromSeconds(120) }, stdout);
        try
        {
            var types = backend == CollectiveBackendKind.Nccl ? new[] { torch.float32, torch.bfloat16 } : [torch.float32];
            foreach (var type in types)
            {
                CheckCollectives(sync, type, stdout);
            }

            MaybeFail(failure, sync.Rank, 1, stdout);
            sync.Barrier();
            if (backend == CollectiveBackendKind.Nccl)
            {
                MeasureAllReduce(sync, stdout);
            }

            stdout.WriteLine($"selftest {(backend == CollectiveBackendKind.Nccl ? "nccl" : "collectives")} ok: rank {sync.Rank} of {sync.WorldSize} on {sync.Device}");
            return 0;
        }
        catch (SharpTuneException e) when (e is not PeerFailedException)
        {
            sync.ReportFailure(e.Message);
            throw;
        }
    }

    /// <summary>Exact checks: small integers and halves are exact in bf16 and float32.</summary>
    private static void CheckCollectives(IGradientSynchronizer sync, torch.ScalarType type, TextWriter stdout)
    {
        using var scope = torch.NewDisposeScope();
        int rank = sync.Rank, world = sync.WorldSize;
        long[] sizes = [3, 1000, 70_000, 5, 300_000];
        var parameters = sizes.Select((n, i) =>
            (torch.arange(n, dtype: torch.float32, device: sync.Device).remainder(7) + (rank + 1) * (i + 1)).to(type).requires_grad_(true)).ToList();

        // 1. Broadcast: everyone ends with rank 0's values.
        sync.BroadcastParameters(parameters);
        for (int i = 0; i < parameters.Count; i++)
        {
            var expected = (torch.arange(sizes[i], dtype: torch.float32, device: sync.Device).remainder(7) + (i + 1)).to(type);
            Expect(Same(parameters[i], expected), $"broadcast of parameter {i} ({type})");
        }

        // 2. Gradient mean: rank r's gradient is (r + 1) * (j % 5 + 1); the mean is (W + 1) / 2 * (j % 5 + 1). Parameter 3 has none on odd ranks.
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                parameters[i].grad = i == 3 && rank % 2 == 1
                    ? null
                    : ((torch.arange(sizes[i], dtype: torch.float32, device: sync.Device).remainder(5) + 1) * (rank + 1)).to(type).DetachFromDisposeScope();
            }

            if (pass == 0)
            {
                sync.AllReduceGradients(parameters);
            }
            else
            {
                // Overlap-style: small buckets, parameters marked ready in reverse order as a backward pass would.
                using var reducer = sync.CreateReducer(parameters, bucketBytes: 64 << 10);
                for (int i = parameters.Count - 1; i >= 0; i--)
                {
                    reducer.MarkReady(parameters[i]);
                }

                reducer.Finish();
            }

            for (int i = 0; i < parameters.Count; i++)
            {
                var basis = torch.arange(sizes[i], dtype: torch.float32, device: sync.Device).remainder(5) + 1;
                double factor = i == 3 ? Enumerable.Range(0, world).Where(r => r % 2 == 0).Sum(r => r + 1.0) / world : (world + 1) / 2.0;
                var expected = (basis * factor).to(type);
                Expect(parameters[i].grad is { } grad && Same(grad, expected), $"gradient mean of parameter {i} ({type}, pass {pass})");
            }
        }

        // 3. A scalar sum (token counts).
        double total = sync.SumOverRanks(rank + 1);
        Expect(total == world * (world + 1) / 2.0, $"sum over ranks: {total}");
        stdout.WriteLine($"rank {rank}: broadcast, gradient mean (bucketed, overlapped) and sum ok in {type}");
    }

    private static void MeasureAllReduce(IGradientSynchronizer sync, TextWriter stdout)
    {
        if (sync is not DataParallelSynchronizer parallel)
        {
            return;
        }

        using var scope = torch.NewDisposeScope();
        const long elements = 64L << 20; // 256 MiB of float32
        var buffer = torch.ones(elements, dtype: torch.float32, device: sync.Device);
        for (int i = 0; i < 3; i++)
        {
            parallel.Backend.AllReduceSum(buffer).Wait();
        }

        torch.cuda.synchronize(sync.Device);
        const int repeats = 10;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
        {
            parallel.Backend.AllReduceSum(buffer).Wait();
        }

        torch.cuda.synchronize(sync.Device);
        double seconds = clock.Elapsed.TotalSeconds / repeats;
        double bytes = elements * 4.0;
        double algorithmic = bytes / seconds / 1e9;
        double bus = algorithmic * 2.0 * (sync.WorldSize - 1) / sync.WorldSize;
        double expectedValue = Math.Pow(sync.WorldSize, 3 + repeats);
        float first = buffer[0].item<float>();
        Expect(Math.Abs(first - expectedValue) <= 1e-6 * expectedValue, $"repeated all-reduce value {first}, expected {expectedValue}");
        stdout.WriteLine($"rank {sync.Rank}: all-reduce of 256 MiB float32: {seconds * 1e3:0.00} ms, algbw {algorithmic:0.0} GB/s, busbw {bus:0.0} GB/s");
    }

    private static void MaybeFail(SelfTestFailure? failure, int rank, int step, TextWriter stdout)
    {
        if (failure is null || failure.Rank != rank || failure.AtStep != step)
        {
            return;
        }

        stdout.WriteLine($"rank {rank}: failing on purpose at step {step} ({failure.Mode})");
        stdout.Flush();
        switch (failure.Mode)
        {
            case "kill":
                Process.GetCurrentProcess().Kill();
                Thread.Sleep(Timeout.Infinite);
                break;
            case "exit":
                Console.Error.WriteLine($"selftest: rank {rank} exits on purpose at step {step}");
                Console.Error.Flush();
                Environment.Exit(3);
                break;
            default:
                throw new SharpTuneException($"selftest: rank {rank} fails on purpose at step {step}");
        }
    }

    private static bool Same(torch.Tensor actual, torch.Tensor expected) =>
        actual.dtype == expected.dtype && actual.shape.SequenceEqual(expected.shape) && actual.eq(expected).all().item<bool>();

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new SharpTuneException($"selftest check failed: {what}");
        }
    }
}
