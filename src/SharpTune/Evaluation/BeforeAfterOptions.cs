namespace SharpTune.Evaluation;

/// <summary>What <see cref="BeforeAfterEvaluation"/> compares: two model folders on held-out rows and questions.</summary>
/// <param name="Title">The report's heading.</param>
/// <param name="BaseModelName">How the base model is named in the report (a Hub id, or a description).</param>
/// <param name="BaseDirectory">The base model (Hugging Face folder; its tokenizer is used for both).</param>
/// <param name="TunedDirectory">The tuned model (base + adapter merged).</param>
/// <param name="HeldOutFile">Held-out rows in the training schema (JSONL with the template's fields), for the loss.</param>
/// <param name="QuestionsFile">Held-out questions (JSONL: <c>instruction</c>, and <c>reference</c> or <c>output</c>), answered by both models.</param>
/// <param name="Template">The prompt template's name (as in training).</param>
/// <param name="TrainingLog">The trainer's JSONL log, for the loss curve and training figures.</param>
public sealed record BeforeAfterOptions(
    string Title,
    string BaseModelName,
    string BaseDirectory,
    string TunedDirectory,
    string HeldOutFile,
    string QuestionsFile,
    string Template,
    string TrainingLog)
{
    public int MaxSequenceLength { get; init; } = 2048;

    /// <summary>How many rows of <see cref="QuestionsFile"/> are asked (greedy answers, side by side).</summary>
    public int MaxQuestions { get; init; } = 5;

    /// <summary>Extra questions to ask both models.</summary>
    public IReadOnlyList<string> Questions { get; init; } = [];

    public int MaxNewTokens { get; init; } = 256;

    /// <summary>auto, cpu or cuda.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>auto (bf16 on CUDA, fp32 on the CPU), bf16, fp16 or fp32.</summary>
    public string Precision { get; init; } = "auto";

    /// <summary>Settings shown in the report's training table.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];
}
