using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Moves activations to host memory after they are made and back to the device before they are used again
/// (<see cref="ActivationOffload"/>). <see cref="Send"/> starts the copy out; the caller may drop its tensor at once.
/// <see cref="Fetch"/> starts the copy back; <see cref="Receive"/> gives the tensor, ordered after that copy.
/// </summary>
public abstract class HostActivationCopy : IDisposable
{
    /// <summary>Starts copying <paramref name="tensor"/> (contiguous) to host memory.</summary>
    public abstract HostActivation Send(Tensor tensor);

    /// <summary>Starts copying <paramref name="activation"/> back to the device; does nothing if that has started.</summary>
    public abstract void Fetch(HostActivation activation);

    /// <summary>
    /// <paramref name="activation"/> on the device, a new tensor in the current dispose scope; the device's work queued
    /// from now on sees its value. Fetches it first if that has not started. Each activation is received at most once.
    /// </summary>
    public abstract Tensor Receive(HostActivation activation);

    /// <summary>Gives up an activation that will not be received, and the memory it holds.</summary>
    public abstract void Discard(HostActivation activation);

    /// <summary>Waits for every copy, then frees what only the copies still needed.</summary>
    public abstract void Finish();

    /// <summary>Frees, without waiting, what copies that have finished no longer need (the tensors they sent).</summary>
    public virtual void ReleaseFinished()
    {
    }

    /// <summary>Waits for every copy, then gives back the host memory no activation uses now (kept for reuse otherwise).</summary>
    public virtual void ReleaseIdleMemory() => Finish();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
