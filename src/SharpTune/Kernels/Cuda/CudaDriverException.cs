namespace SharpTune.Kernels.Cuda;

/// <summary>A CUDA driver call failed, or the driver cannot be loaded.</summary>
public sealed class CudaDriverException(string message) : SharpTuneException(message);
