using System.Diagnostics;
using SharpTune.Kernels.Nf4;
using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

public sealed class Nf4DequantizeKernelTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, bool, int, ScalarType> Cases => new()
    {
        { 4096, 4096, false, 64, ScalarType.BFloat16 },
        { 14336, 4096, true, 64, ScalarType.BFloat16 },
        { 37, 129, false, 64, ScalarType.Float32 },   // 4773 values: a partial last block and a lone last nibble
        { 37, 129, true, 64, ScalarType.Float32 },
        { 37, 129, false, 64, ScalarType.Float16 },
        { 37, 129, true, 64, ScalarType.Float16 },
        { 300, 517, true, 128, ScalarType.BFloat16 }, // another block size; the last group of 256 absmax is partial
        { 37, 129, true, 48, ScalarType.BFloat16 },   // a block size that is not a power of two: the kernel divides
        { 37, 129, false, 50, ScalarType.BFloat16 },  // not a multiple of 16: the byte-per-thread kernel
        { 3, 5, true, 64, ScalarType.BFloat16 },      // fewer than 16 values: only the 16-wide kernel's tail
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_dequantization_is_bit_identical_to_the_reference(int rows, int cols, bool doubleQuantize, int blockSize, ScalarType dtype)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var weight = randn([rows, cols], ScalarType.Float32, CUDA) * 0.02;
        weight[0, 0] = tensor(0.5f);                  // an outlier block
        weight[rows - 1] = zeros([cols], ScalarType.Float32, CUDA); // all-zero blocks
        using var q = Nf4Quantizer.Quantize(weight, doubleQuantize, blockSize);
        Assert.True(KernelComparison.With(true, () => FusedNf4Dequantize.Applies(q, dtype)), "the kernel path does not apply");

        var reference = KernelComparison.With(false, () => q.Dequantize(dtype));
        KernelComparison.PoisonCachingAllocator(q.ElementCount, dtype);
        var fused = KernelComparison.With(true, () => q.Dequantize(dtype));
        double referenceMs = KernelComparison.With(false, () => Milliseconds(() => q.Dequantize(dtype)));
        double fusedMs = KernelComparison.With(true, () => Milliseconds(() => q.Dequantize(dtype)));

        Assert.Equal(reference.shape, fused.shape);
        Assert.Equal(dtype, fused.dtype);
        Assert.False(fused.isnan().any().item<bool>(), "unwritten (NaN) elements");
        bool identical = fused.cpu().bytes.SequenceEqual(reference.cpu().bytes);
        double maxDifference = (fused.to(ScalarType.Float64) - reference.to(ScalarType.Float64)).abs().max().item<double>();
        output.WriteLine($"nf4 {rows}x{cols} dq={doubleQuantize} block {blockSize} {dtype}: bit-identical {identical}, max |diff| {maxDifference:E2}; "
            + $"warm call: reference {referenceMs:F2} ms, fused {fusedMs:F2} ms");
        Assert.True(identical, $"fused differs from the reference (max |diff| {maxDifference:E2})");
    }

    /// <summary>The time of one call, for the log (not asserted).</summary>
    private static double Milliseconds(Func<Tensor> dequantize)
    {
        cuda.synchronize();
        var clock = Stopwatch.StartNew();
        using var result = dequantize();
        cuda.synchronize();
        return clock.Elapsed.TotalMilliseconds;
    }
}
