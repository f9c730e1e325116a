namespace SharpTune.Distributed.Launch;

/// <summary>What <see cref="LocalLauncher"/> starts: one process per GPU of this host running the same command.</summary>
public sealed record LaunchOptions
{
    /// <summary>Processes (one per GPU) to start on this host.</summary>
    public required int ProcessesPerNode { get; init; }

    /// <summary>The program every rank runs (e.g. the sharptune executable, or dotnet).</summary>
    public required string Program { get; init; }

    /// <summary>Its arguments.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Hosts in the job; each runs <c>sharptune launch</c> with its own <see cref="NodeRank"/>.</summary>
    public int NodeCount { get; init; } = 1;

    /// <summary>This host's index among <see cref="NodeCount"/> (node 0 hosts rank 0 and the store).</summary>
    public int NodeRank { get; init; }

    /// <summary>The address of node 0 as the other hosts reach it.</summary>
    public string MasterAddress { get; init; } = "127.0.0.1";

    /// <summary>The store's port; 0 picks a free one (single-host jobs only).</summary>
    public int MasterPort { get; init; }

    /// <summary>
    /// Pin rank i to one GPU through CUDA_VISIBLE_DEVICES (the i-th of the launcher's own CUDA_VISIBLE_DEVICES,
    /// else GPU i). Off: every rank sees all GPUs and picks LOCAL_RANK.
    /// </summary>
    public bool PinGpus { get; init; } = true;

    /// <summary>Extra variables for every rank (applied last).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// When a rank stops because another failed (exit code <see cref="DistributedException.PeerFailedExitCode"/>),
    /// how long to wait for the failed rank to exit on its own, so the report can name it, before killing the rest.
    /// </summary>
    public TimeSpan RootCauseGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Ranks in the whole job.</summary>
    public int WorldSize => ProcessesPerNode * NodeCount;

    /// <summary>
    /// Options that run this same tool (the sharptune executable, or dotnet with its assembly) with
    /// <paramref name="toolArguments"/> on <paramref name="gpus"/> GPUs: what <c>sharptune train --gpus N</c> and the
    /// pipeline's TrainLoRA stage use to fan out.
    /// </summary>
    public static LaunchOptions ForThisTool(int gpus, IReadOnlyList<string> toolArguments)
    {
        var (program, prefix) = SelfInvocation.Current();
        return new LaunchOptions { ProcessesPerNode = gpus, Program = program, Arguments = [.. prefix, .. toolArguments] };
    }
}
