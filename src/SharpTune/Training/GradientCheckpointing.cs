namespace SharpTune.Training;

/// <summary>How activations of decoder layers are kept for backward.</summary>
public enum GradientCheckpointing
{
    /// <summary>Keep every activation (fastest, most memory).</summary>
    Off,

    /// <summary>Keep only each layer's input; recompute the layer in backward.</summary>
    On,

    /// <summary>As <see cref="On"/>, with each layer's input held in pinned host memory (on CUDA) until backward.</summary>
    Offload,
}
