namespace SharpTune.Distributed;

/// <summary>Another rank of the job failed or vanished; this rank stops too, naming it.</summary>
public sealed class PeerFailedException(int failedRank, string reason)
    : DistributedException($"rank {failedRank} failed: {reason}", PeerFailedExitCode)
{
    /// <summary>The rank that failed first, or -1 when unknown.</summary>
    public int FailedRank { get; } = failedRank;

    public string Reason { get; } = reason;
}
