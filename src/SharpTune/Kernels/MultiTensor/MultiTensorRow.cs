namespace SharpTune.Kernels.MultiTensor;

/// <summary>
/// One tensor of a multi-tensor launch: device addresses of the parameter, its gradient and its two moments (float32
/// values, or 8-bit codes with their absmax; unused addresses are 0) and the element count.
/// </summary>
public readonly record struct MultiTensorRow(nint Parameter, nint Gradient, nint First, nint Second, nint FirstAbsmax, nint SecondAbsmax,
    long Elements);
