namespace SharpTune.Evaluation;

/// <summary>One optimizer step as the trainer's JSONL log has it (step, loss, lr, tokens/s, step time, peak GPU memory).</summary>
public sealed record TrainingStepRecord(int Step, double Loss, double LearningRate, double TokensPerSecond, double StepSeconds, long? PeakGpuMemoryBytes);
