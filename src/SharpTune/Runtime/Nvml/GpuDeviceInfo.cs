namespace SharpTune.Runtime.Nvml;

/// <summary>One GPU as NVML reports it.</summary>
public sealed record GpuDeviceInfo(int Index, string Name, ulong TotalMemoryBytes, int ComputeMajor, int ComputeMinor)
{
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";

    /// <summary>bf16 tensor-core math needs compute capability 8.0 (Ampere) or newer.</summary>
    public bool SupportsBf16 => ComputeMajor >= 8;
}
