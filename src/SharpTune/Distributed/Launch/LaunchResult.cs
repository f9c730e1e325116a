namespace SharpTune.Distributed.Launch;

/// <summary>How a launched job ended: success, or the rank that failed first and its last words.</summary>
public sealed record LaunchResult(IReadOnlyList<RankExit> Ranks, RankExit? FailedRank, TimeSpan Duration, bool Cancelled)
{
    public bool Succeeded => FailedRank is null && !Cancelled;

    /// <summary>The exit code for the launcher: 0, the failed rank's code, or 130 when cancelled.</summary>
    public int ExitCode => Cancelled ? 130 : FailedRank is null ? 0 : FailedRank.ExitCode is > 0 and < 256 ? FailedRank.ExitCode : 1;

    /// <summary>One line: "rank 1 exited with code 3: error: ..." (null on success).</summary>
    public string? FailureMessage => Cancelled
        ? "cancelled; all ranks were stopped"
        : FailedRank is { } failed
            ? $"rank {failed.Rank} {failed.DescribeExit()}" + (failed.LastErrorLine is { Length: > 0 } line ? ": " + line : " (it wrote nothing to stderr)") +
              $"; the other ranks were stopped"
            : null;
}
