namespace SharpTune.Evaluation;

/// <summary>One held-out question with the base model's and the tuned model's answers (and the reference answer, if any).</summary>
public sealed record AnswerComparison(string Question, string BaseAnswer, string TunedAnswer, string? Reference);
