namespace SharpTune.Progress;

/// <summary>
/// One progress report of a long operation (a download, a quantization pass, a training step). Library code takes an
/// <see cref="IProgress{T}"/> of this and never writes to the console itself; the CLI renders it as a bar with ETA.
/// </summary>
/// <param name="Task">What is running, e.g. "download model.safetensors" or "train".</param>
/// <param name="Done">Units done so far.</param>
/// <param name="Total">Units in all, or null when unknown.</param>
/// <param name="Unit">"B" for bytes (shown as MiB/GiB), "step", "row", "tensor", ...</param>
/// <param name="Detail">A short status such as "loss 1.234 lr 2e-4", or null.</param>
public sealed record OperationProgress(string Task, long Done, long? Total, string Unit, string? Detail = null)
{
    public double? Fraction => Total is > 0 ? Math.Clamp((double)Done / Total.Value, 0, 1) : null;
}
