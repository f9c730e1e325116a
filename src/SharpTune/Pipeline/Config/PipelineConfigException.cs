namespace SharpTune.Pipeline.Config;

/// <summary>
/// A pipeline file that does not parse or validate. The message has one line per problem, each
/// <c>file:line:column: message</c>, so editors and CI logs can jump to it.
/// </summary>
public sealed class PipelineConfigException : SharpTuneException
{
    public PipelineConfigException(IReadOnlyList<ConfigDiagnostic> diagnostics)
        : base(string.Join("\n", diagnostics), exitCode: 2)
    {
        Diagnostics = diagnostics;
    }

    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }
}
