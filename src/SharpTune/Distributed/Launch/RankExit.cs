namespace SharpTune.Distributed.Launch;

/// <summary>How one rank's process ended.</summary>
/// <param name="KilledByLauncher">True when the launcher killed it because another rank failed.</param>
/// <param name="LastErrorLine">The last non-empty line it wrote to stderr, if any.</param>
public sealed record RankExit(int Rank, int ExitCode, bool KilledByLauncher, string? LastErrorLine, DateTime ExitedAtUtc)
{
    /// <summary>"exited with code 3", "was killed by signal 9 (SIGKILL)", ...</summary>
    public string DescribeExit() => ExitCode switch
    {
        > 128 and < 160 => $"was killed by signal {ExitCode - 128}{SignalName(ExitCode - 128)}",
        _ => $"exited with code {ExitCode}",
    };

    private static string SignalName(int signal) => signal switch
    {
        9 => " (SIGKILL; out of memory?)",
        6 => " (SIGABRT)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        2 => " (SIGINT)",
        _ => "",
    };
}
