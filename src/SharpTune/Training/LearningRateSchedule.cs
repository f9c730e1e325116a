namespace SharpTune.Training;

/// <summary>
/// The learning rate of each optimizer step, as HF transformers' schedules compute it: step s (0-based, the update
/// about to be taken) gets <c>base * s / warmup</c> during warmup, then the decay of <see cref="Kind"/>.
/// </summary>
public sealed record LearningRateSchedule(LearningRateScheduleKind Kind, double BaseRate, int WarmupSteps, int TotalSteps)
{
    public double At(int step)
    {
        if (step < WarmupSteps)
        {
            return BaseRate * step / Math.Max(1, WarmupSteps);
        }

        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            LearningRateScheduleKind.Linear => BaseRate * Math.Max(0, 1 - progress),
            LearningRateScheduleKind.Cosine => BaseRate * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
            _ => BaseRate,
        };
    }
}
