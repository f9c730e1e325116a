namespace SharpTune.Training;

/// <summary>One tokenized example: token ids and, per token, 1 where the loss is taken (the completion).</summary>
public sealed record TrainingSample(int[] InputIds, byte[] CompletionMask);
