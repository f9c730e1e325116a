namespace SharpTune.Pipeline.Manifest;

/// <summary>How a stage ended in a run.</summary>
public static class StageOutcome
{
    /// <summary>Its artifact was already in the cache.</summary>
    public const string Cached = "cached";

    /// <summary>It ran and its artifact was committed.</summary>
    public const string Ran = "ran";

    /// <summary>It ran and failed; nothing was committed.</summary>
    public const string Failed = "failed";

    /// <summary>This build cannot run it (a library part it needs is missing).</summary>
    public const string Unavailable = "unavailable";
}
