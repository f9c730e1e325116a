using SharpTune.Kernels;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

/// <summary>What every kernel test needs: switch the fast path on or off, poison the allocator, measure relative error.</summary>
internal static class KernelComparison
{
    public static T With<T>(bool fused, Func<T> run)
    {
        bool previous = FusedKernels.Enabled;
        FusedKernels.Enabled = fused;
        try
        {
            return run();
        }
        finally
        {
            FusedKernels.Enabled = previous;
        }
    }

    /// <summary>Fills memory the caching allocator will hand out next with NaN, so unwritten outputs show.</summary>
    public static void PoisonCachingAllocator(long elements, ScalarType dtype)
    {
        for (int i = 0; i < 4; i++)
        {
            using var poison = full([elements], double.NaN, dtype, CUDA);
        }
    }

    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64);
        var e = expected.to(ScalarType.Float64);
        return (a - e).norm().item<double>() / e.norm().item<double>();
    }

    /// <summary>
    /// The fast path must be as close to the float64 truth as the reference in the same dtype is (within 2x plus a
    /// floor for rounding-order differences), and must write every element.
    /// </summary>
    public static void AssertAsAccurateAsReference(string what, Tensor fused, Tensor reference, Tensor truth, ScalarType dtype, ITestOutputHelper output)
    {
        Assert.False(fused.isnan().any().item<bool>(), $"{what}: unwritten (NaN) elements");
        double error = RelativeError(fused, truth), referenceError = RelativeError(reference, truth);
        output.WriteLine($"{what} {dtype}: fused {error:E2}, reference {referenceError:E2}");
        double floor = dtype == ScalarType.Float32 ? 1e-6 : 1e-3;
        Assert.True(error <= 2 * referenceError + floor, $"{what}: error {error:E2} vs reference {referenceError:E2}");
    }
}
