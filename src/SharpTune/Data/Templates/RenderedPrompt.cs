namespace SharpTune.Data.Templates;

/// <summary>
/// A training example as text: its segments in order, and whether the tokenizer's EOS token is to be appended (as part
/// of the completion) — instruction templates need it, chat templates already end each turn with their own marker.
/// </summary>
public sealed record RenderedPrompt(IReadOnlyList<PromptSegment> Segments, bool AppendEos)
{
    public string Text => string.Concat(Segments.Select(s => s.Text));

    /// <summary>The text the model is given before it answers (everything before the first completion segment).</summary>
    public string PromptText => string.Concat(Segments.TakeWhile(s => !s.IsCompletion).Select(s => s.Text));
}
