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

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>One tensor in host memory (or on its way there or back): its shape and dtype.</summary>
public abstract class HostActivation(long[] shape, ScalarType dtype)
{
    public long[] Shape { get; } = shape;

    public ScalarType Dtype { get; } = dtype;

    /// <summary>Bytes of host memory it takes.</summary>
    public long Bytes => Shape.Aggregate(1L, (n, d) => n * d) * Distributed.GradientBucketPlan.ElementSize(Dtype);
}
