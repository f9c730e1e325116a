namespace SharpTune.Evaluation;

/// <summary>
/// What Evaluate found: held-out loss and perplexity of the base and the tuned model, their answers side by side,
/// and the training figures. <see cref="EvaluationReportWriter"/> renders it as report.md with a loss-curve PNG.
/// </summary>
/// <param name="Title">The report's heading, e.g. the pipeline's name.</param>
/// <param name="BaseModel">The base model (a Hub id, or a description of a locally made one).</param>
/// <param name="Settings">Key settings as name/value pairs shown in a table (LoRA rank, steps, learning rate, ...).</param>
public sealed record EvaluationReport(
    string Title,
    string BaseModel,
    HeldOutLoss Before,
    HeldOutLoss After,
    IReadOnlyList<AnswerComparison> Answers,
    TrainingLogSummary Training,
    IReadOnlyList<KeyValuePair<string, string>> Settings,
    string Device);
