namespace SharpTune.Pipeline.Config;

/// <summary>One problem in a pipeline file, at a 1-based line and column: printed as <c>file:line:column: message</c>.</summary>
public sealed record ConfigDiagnostic(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}
