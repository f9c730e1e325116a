namespace SharpTune.Pipeline.Running;

/// <summary>A stage this build of SharpTune cannot run (a library part it needs is missing): no artifact is written.</summary>
public sealed class StageUnavailableException : SharpTuneException
{
    public StageUnavailableException(string stage, string reason)
        : base($"stage {stage} is not available in this build: {reason}", exitCode: 3)
    {
        Stage = stage;
        Reason = reason;
    }

    public string Stage { get; }

    public string Reason { get; }
}
