namespace SharpTune.Benchmarks;

/// <summary>
/// Dense bf16 tensor-core peaks (no sparsity) by GPU name, for MFU: NVIDIA data sheets' sparse figures halved
/// (H100 SXM and H200 SXM share the same tensor cores: 1979 sparse = 989 dense; H200 NVL 835; H100 PCIe 756).
/// </summary>
public static class GpuPeakThroughput
{
    /// <summary>TFLOP/s for a GPU name as NVML reports it, or null when the GPU is not in the table.</summary>
    public static double? DenseBf16Tflops(string? gpuName)
    {
        if (gpuName is null)
        {
            return null;
        }

        string name = gpuName.ToUpperInvariant();
        return name switch
        {
            _ when name.Contains("H200", StringComparison.Ordinal) && name.Contains("NVL", StringComparison.Ordinal) => 835,
            _ when name.Contains("H200", StringComparison.Ordinal) => 989,
            _ when name.Contains("H100", StringComparison.Ordinal) && (name.Contains("PCIE", StringComparison.Ordinal)) => 756,
            _ when name.Contains("H100", StringComparison.Ordinal) => 989,
            _ when name.Contains("A100", StringComparison.Ordinal) => 312,
            _ when name.Contains("L40S", StringComparison.Ordinal) => 362,
            _ when name.Contains("RTX 4090", StringComparison.Ordinal) => 165,
            _ when name.Contains("A10G", StringComparison.Ordinal) => 70,
            _ => null,
        };
    }
}
