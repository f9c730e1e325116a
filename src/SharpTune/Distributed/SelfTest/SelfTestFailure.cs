namespace SharpTune.Distributed.SelfTest;

/// <summary>A failure the self-test injects on purpose, to prove the job ends cleanly when a rank dies.</summary>
/// <param name="Mode">exit: exit with code 3 after one stderr line; kill: SIGKILL itself (no goodbye, no error key);
/// throw: throw a <see cref="SharpTuneException"/> (reported through the store).</param>
public sealed record SelfTestFailure(int Rank, int AtStep, string Mode)
{
    public static readonly IReadOnlyList<string> Modes = ["exit", "kill", "throw"];
}
