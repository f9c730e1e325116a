using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SharpTune.Runtime.Nvml;

namespace SharpTune.Distributed.Launch;

/// <summary>
/// Starts one process per GPU on this host (like torchrun), each with RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and its own CUDA_VISIBLE_DEVICES; streams their output line by line
/// prefixed with <c>[rank N]</c>; and when a rank exits non-zero, kills the others at once and reports the rank
/// that failed first with the last line it wrote to stderr. NVLink multicast is kept off in every rank
/// (NCCL_NVLS_ENABLE=0 unless already set): a program that uses it can take a shared host's GPUs out of service.
/// </summary>
public static class LocalLauncher
{
    /// <summary>Variables set to keep NVLink multicast (NVLS) off, unless the environment already sets them.</summary>
    public static IReadOnlyDictionary<string, string> MulticastOffVariables { get; } = new Dictionary<string, string>
    {
        ["NCCL_NVLS_ENABLE"] = "0",
        ["TORCH_SYMM_MEM_DISABLE_MULTICAST"] = "1",
        ["NVSHMEM_DISABLE_NVLS"] = "1",
    };

    /// <summary>The CPU threads of each rank's libtorch (OpenMP); set to cores / ranks per host unless already set.</summary>
    public const string ThreadsVariable = "OMP_NUM_THREADS";

    /// <summary>Runs the job to its end. Cancelling kills every rank.</summary>
    public static LaunchResult Run(LaunchOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation = default)
    {
        Validate(options);
        int port = options.MasterPort != 0 ? options.MasterPort : FreeLoopbackPort();
        var gpuIds = options.PinGpus ? GpuIds(options.ProcessesPerNode, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"), CountGpus()) : null;
        var started = Stopwatch.StartNew();
        var outputGate = new Lock();
        var ranks = new LaunchedRank[options.ProcessesPerNode];
        try
        {
            for (int local = 0; local < options.ProcessesPerNode; local++)
            {
                var variables = RankEnvironment(options, local, port, gpuIds?[local], Environment.GetEnvironmentVariable);
                ranks[local] = LaunchedRank.Start(options, variables, int.Parse(variables[DistributedEnvironment.RankVariable], CultureInfo.InvariantCulture), stdout, stderr, outputGate);
            }
        }
        catch
        {
            foreach (var rank in ranks)
            {
                rank?.Kill();
            }

            throw;
        }

        bool cancelled = Supervise(ranks, options.RootCauseGrace, cancellation);
        var exits = ranks.Select(r => r.Exit!).ToArray();
        var failures = exits.Where(e => e.ExitCode != 0 && !e.KilledByLauncher).OrderBy(e => e.ExitedAtUtc).ToArray();
        var rootCause = failures.FirstOrDefault(e => e.ExitCode != DistributedException.PeerFailedExitCode) ?? failures.FirstOrDefault();
        if (rootCause is null && !cancelled && exits.Any(e => e.ExitCode != 0))
        {
            rootCause = exits.First(e => e.ExitCode != 0);
        }

        return new LaunchResult(exits, rootCause, started.Elapsed, cancelled);
    }

    /// <summary>
    /// For <c>sharptune train --gpus N</c> and the pipeline's TrainLoRA stage (setting <c>gpus</c>): null when there
    /// is nothing to launch (N is 1, or this process already is a rank of a job), so the caller trains in-process;
    /// else runs this tool with <paramref name="toolArguments"/> as N ranks and returns how that ended. The ranks may
    /// ask for N GPUs again (the same command line): they are ranks of a job, so they train.
    /// </summary>
    public static LaunchResult? RunThisToolOnGpus(int gpus, IReadOnlyList<string> toolArguments, TextWriter stdout, TextWriter stderr, CancellationToken cancellation = default)
    {
        if (gpus <= 1 || DistributedEnvironment.FromEnvironment().IsDistributed)
        {
            return null;
        }

        return Run(LaunchOptions.ForThisTool(gpus, toolArguments), stdout, stderr, cancellation);
    }

    /// <summary>The environment of local rank <paramref name="localRank"/> (what <see cref="Run"/> sets; the rest is inherited).</summary>
    public static Dictionary<string, string> RankEnvironment(LaunchOptions options, int localRank, int masterPort, string? cudaVisibleDevice, Func<string, string?> parent)
    {
        var rank = new DistributedEnvironment(
            options.NodeRank * options.ProcessesPerNode + localRank,
            options.WorldSize,
            localRank,
            options.ProcessesPerNode,
            options.MasterAddress,
            masterPort,
            DistributedLauncherKind.SharpTune);
        var variables = new Dictionary<string, string>(rank.ToVariables(), StringComparer.Ordinal)
        {
            [DistributedEnvironment.LaunchedVariable] = "1",
        };
        foreach (var (name, value) in MulticastOffVariables)
        {
            variables[name] = parent(name) is { Length: > 0 } already ? already : value;
        }

        // Each rank's libtorch would start one CPU thread per core; N ranks on one host share the cores instead.
        variables[ThreadsVariable] = parent(ThreadsVariable) is { Length: > 0 } threads
            ? threads
            : Math.Max(1, Environment.ProcessorCount / Math.Max(1, options.ProcessesPerNode)).ToString(CultureInfo.InvariantCulture);

        if (cudaVisibleDevice is not null)
        {
            variables["CUDA_VISIBLE_DEVICES"] = cudaVisibleDevice;
        }

        foreach (var (name, value) in options.Environment)
        {
            variables[name] = value;
        }

        return variables;
    }

    /// <summary>
    /// The GPU each local rank gets: the first <paramref name="count"/> entries of the launcher's own
    /// CUDA_VISIBLE_DEVICES, else 0..count-1. Fails when the host has fewer GPUs (when NVML can count them).
    /// </summary>
    public static IReadOnlyList<string> GpuIds(int count, string? cudaVisibleDevices, int? gpusOnHost)
    {
        if (!string.IsNullOrWhiteSpace(cudaVisibleDevices))
        {
            var listed = cudaVisibleDevices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (listed.Length < count)
            {
                throw new DistributedException($"--gpus {count}: CUDA_VISIBLE_DEVICES={cudaVisibleDevices} lists only {listed.Length} GPU(s)");
            }

            return listed[..count];
        }

        if (gpusOnHost is { } available && available < count)
        {
            throw new DistributedException($"--gpus {count}: this host has {available} GPU(s)");
        }

        return [.. Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private static void Validate(LaunchOptions options)
    {
        if (options.ProcessesPerNode < 1)
        {
            throw new SharpTuneException($"--gpus must be at least 1 (got {options.ProcessesPerNode})");
        }

        if (options.NodeCount < 1 || options.NodeRank < 0 || options.NodeRank >= options.NodeCount)
        {
            throw new SharpTuneException($"--node-rank {options.NodeRank} is not in [0, {options.NodeCount}) for --nnodes {options.NodeCount}");
        }

        if (options.NodeCount > 1 && options.MasterPort == 0)
        {
            throw new SharpTuneException("a job over several hosts needs --master-port (the same on every host)");
        }

        if (options.NodeCount > 1 && (options.MasterAddress is "localhost" || (IPAddress.TryParse(options.MasterAddress, out var ip) && IPAddress.IsLoopback(ip))))
        {
            throw new SharpTuneException("a job over several hosts needs --master-addr: node 0's address as the other hosts reach it");
        }
    }

    private static int? CountGpus()
    {
        using var nvml = NvmlLibrary.TryOpen(out _);
        return nvml?.Devices().Count;
    }

    /// <summary>Waits for every rank; on the first failure kills the rest. Returns true when cancelled.</summary>
    private static bool Supervise(LaunchedRank[] ranks, TimeSpan rootCauseGrace, CancellationToken cancellation)
    {
        DateTime? killAt = null;
        bool cancelled = false;
        while (ranks.Any(r => r.Exit is null))
        {
            var running = ranks.Where(r => r.Exit is null).ToArray();
            var waits = running.Select(r => r.Exited).Append(Task.Delay(Timeout.Infinite, cancellation)).ToArray();
            int waitMs = killAt is { } at ? (int)Math.Max(0, (at - DateTime.UtcNow).TotalMilliseconds) : Timeout.Infinite;
            int index = Task.WaitAny(waits, waitMs);
            if (index >= 0 && index < running.Length)
            {
                var exit = running[index].Collect(killedByLauncher: false);
                if (exit.ExitCode != 0 && killAt is null)
                {
                    killAt = exit.ExitCode == DistributedException.PeerFailedExitCode ? DateTime.UtcNow + rootCauseGrace : DateTime.UtcNow;
                }

                continue;
            }

            if (cancellation.IsCancellationRequested)
            {
                cancelled = true;
            }

            foreach (var rank in running)
            {
                rank.Kill();
            }

            foreach (var rank in running)
            {
                rank.Collect(killedByLauncher: true);
            }
        }

        return cancelled;
    }
}
