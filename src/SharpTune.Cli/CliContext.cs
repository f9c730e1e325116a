namespace SharpTune.Cli;

/// <summary>Where a command writes: standard output for results, standard error for errors and progress.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error);
