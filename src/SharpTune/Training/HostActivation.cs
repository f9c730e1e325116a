using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>One tensor in host memory, or on its way there or back (<see cref="HostActivationCopy"/>): its shape and dtype.</summary>
public abstract class HostActivation(long[] shape, ScalarType dtype, long elementSize)
{
    public long[] Shape { get; } = shape;

    public ScalarType Dtype { get; } = dtype;

    /// <summary>Bytes of its values.</summary>
    public long Bytes { get; } = shape.Aggregate(1L, (n, d) => n * d) * elementSize;
}
