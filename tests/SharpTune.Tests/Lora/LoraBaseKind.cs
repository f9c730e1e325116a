namespace SharpTune.Tests.Lora;

/// <summary>The frozen base under a test's LoRA projection: a 16-bit <c>Linear</c> or an NF4 layer, with or without a bias.</summary>
public enum LoraBaseKind
{
    Linear,
    LinearWithBias,
    Nf4,
    Nf4WithBias,
}
