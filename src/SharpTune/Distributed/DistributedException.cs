namespace SharpTune.Distributed;

/// <summary>
/// A multi-process job cannot go on: a rendezvous timed out, a peer failed or vanished, NCCL reported an error.
/// The message names the rank and the cause in one line.
/// </summary>
public class DistributedException : SharpTuneException
{
    /// <summary>The exit code of a rank that stops because another rank failed (not the root cause).</summary>
    public const int PeerFailedExitCode = 75;

    public DistributedException(string message, int exitCode = 1)
        : base(message, exitCode)
    {
    }

    public DistributedException(string message, Exception inner, int exitCode = 1)
        : base(message, inner, exitCode)
    {
    }
}
