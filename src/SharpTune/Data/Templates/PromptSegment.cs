namespace SharpTune.Data.Templates;

/// <summary>A piece of a rendered prompt; <paramref name="IsCompletion"/> pieces are what the model learns to write (loss on them).</summary>
public sealed record PromptSegment(string Text, bool IsCompletion);
