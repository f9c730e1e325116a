namespace SharpTune;

/// <summary>
/// An error caused by the user's input or environment (a missing file, a bad setting, no GPU where one was asked
/// for). The command-line tool prints its message as one line and exits non-zero, without a stack trace.
/// </summary>
public class SharpTuneException : Exception
{
    public SharpTuneException(string message, int exitCode = 1)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public SharpTuneException(string message, Exception inner, int exitCode = 1)
        : base(message, inner)
    {
        ExitCode = exitCode;
    }

    /// <summary>The process exit code the command-line tool uses for this error.</summary>
    public int ExitCode { get; }
}
