namespace SharpTune.Pipeline.Config;

/// <summary>
/// The before/after comparison: held-out questions (a JSONL file with <c>instruction</c> and a <c>reference</c> or
/// <c>output</c> answer; the first <c>max_questions</c> of them, plus <c>questions</c>) answered by the base and the
/// tuned model. The held-out loss uses the dataset's <c>held_out</c> rows.
/// </summary>
public sealed record EvaluateSettings(string File, int MaxQuestions, int MaxNewTokens, IReadOnlyList<string> Questions)
{
    internal static EvaluateSettings Read(YamlSection section)
    {
        var settings = new EvaluateSettings(
            section.String("file", "datasets/medical/eval.jsonl"),
            section.Int("max_questions", 5, min: 0, max: 10_000),
            section.Int("max_new_tokens", 256, min: 1, max: 1 << 20),
            section.StringList("questions", []));
        section.Finish();
        return settings;
    }

    public bool Equals(EvaluateSettings? other) =>
        other is not null && File == other.File && MaxQuestions == other.MaxQuestions && MaxNewTokens == other.MaxNewTokens
        && Questions.SequenceEqual(other.Questions);

    public override int GetHashCode() => HashCode.Combine(File, MaxQuestions, MaxNewTokens, Questions.Count);
}
