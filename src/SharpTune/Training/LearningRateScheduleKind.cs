namespace SharpTune.Training;

/// <summary>Shapes of the learning rate over training, after a linear warmup from 0.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>Linear decay to 0 at the last step (HF's <c>get_linear_schedule_with_warmup</c>).</summary>
    Linear,

    /// <summary>Half a cosine down to 0 at the last step (HF's <c>get_cosine_schedule_with_warmup</c>).</summary>
    Cosine,

    /// <summary>Constant after warmup.</summary>
    Constant,
}
