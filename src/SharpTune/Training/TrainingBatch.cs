using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// A micro-batch on the host: token ids [batch, length] right-padded, and labels aligned with the inputs
/// (<c>Labels[i, j]</c> is the token to predict after position j, or <see cref="IgnoreIndex"/>). Right padding under
/// causal attention needs no attention mask: real tokens never see the pads that follow them.
/// </summary>
public sealed record TrainingBatch(long[] InputIds, long[] Labels, int BatchSize, int Length, int RealTokens)
{
    public const long IgnoreIndex = -100;

    public int TargetTokens => Labels.Count(l => l != IgnoreIndex);

    public (Tensor InputIds, Tensor Labels) ToTensors(Device device) =>
        (tensor(InputIds, [BatchSize, Length], device: device), tensor(Labels, [BatchSize, Length], device: device));
}
