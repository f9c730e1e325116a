namespace SharpTune.Training;

/// <summary>The optimizers <see cref="SftTrainer"/> can use.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW with float32 moments (PyTorch's <c>torch.optim.AdamW</c> update).</summary>
    AdamW,

    /// <summary>AdamW with block-wise 8-bit moments (bitsandbytes' <c>AdamW8bit</c>, blocks of 256).</summary>
    AdamW8Bit,
}
