using SharpTune.Kernels;
using SharpTune.Kernels.RmsNorm;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

public sealed class RmsNormKernelTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, ScalarType> Cases => new()
    {
        { 7, 64, ScalarType.Float32 },
        { 33, 1000, ScalarType.Float32 },
        { 4096, 4096, ScalarType.BFloat16 },
        { 129, 5120, ScalarType.BFloat16 },
        { 65, 3000, ScalarType.Float16 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_forward_and_backward_match_the_reference(int rows, int cols, ScalarType dtype)
    {
        _ = CudaFixture.Runtime;
        Assert.True(FusedKernels.Enabled);
        using var scope = NewDisposeScope();
        var x64 = randn([rows, cols], ScalarType.Float64, CUDA) * 3 + 0.5;
        var w64 = randn([cols], ScalarType.Float64, CUDA) * 0.2 + 1;
        var dy64 = randn([rows, cols], ScalarType.Float64, CUDA);

        var (yRef64, dxRef64) = Run(x64, w64, dy64, fused: false);
        var (yRef, dxRef) = Run(x64.to(dtype), w64.to(dtype), dy64.to(dtype), fused: false);
        PoisonCachingAllocator(rows, cols, dtype);
        var (yFused, dxFused) = Run(x64.to(dtype), w64.to(dtype), dy64.to(dtype), fused: true);

        Assert.False(yFused.isnan().any().item<bool>(), "forward left unwritten (NaN) elements");
        Assert.False(dxFused.isnan().any().item<bool>(), "backward left unwritten (NaN) elements");
        double yErr = RelativeError(yFused, yRef64), yRefErr = RelativeError(yRef, yRef64);
        double dxErr = RelativeError(dxFused, dxRef64), dxRefErr = RelativeError(dxRef, dxRef64);
        output.WriteLine($"{rows}x{cols} {dtype}: forward {yErr:E2} (reference {yRefErr:E2}), backward {dxErr:E2} (reference {dxRefErr:E2})");
        double floor = dtype == ScalarType.Float32 ? 1e-6 : 1e-3;
        Assert.True(yErr <= 2 * yRefErr + floor, $"forward error {yErr:E2} vs reference {yRefErr:E2}");
        Assert.True(dxErr <= 2 * dxRefErr + floor, $"backward error {dxErr:E2} vs reference {dxRefErr:E2}");
    }

    [Fact]
    public void The_weight_gradient_is_computed_when_the_weight_is_trained()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = randn([16, 256], ScalarType.Float32, CUDA);
        var w1 = (randn([256], ScalarType.Float32, CUDA) + 1).requires_grad_(true);
        var w2 = w1.detach().clone().requires_grad_(true);
        FusedRmsNorm.Apply(x, w1, 1e-5).sum().backward();
        RmsNormReference.Forward(x, w2, 1e-5).sum().backward();
        Assert.True(RelativeError(w1.grad!, w2.grad!) < 1e-5);
    }

    private static (Tensor Y, Tensor Dx) Run(Tensor x, Tensor w, Tensor dy, bool fused)
    {
        var input = x.detach().clone().requires_grad_(true);
        bool previous = FusedKernels.Enabled;
        FusedKernels.Enabled = fused;
        try
        {
            var y = FusedRmsNorm.Apply(input, w, 1e-6);
            y.backward([dy]);
            return (y.detach(), input.grad!);
        }
        finally
        {
            FusedKernels.Enabled = previous;
        }
    }

    /// <summary>Fills memory the caching allocator will hand out next with NaN, so unwritten outputs show.</summary>
    private static void PoisonCachingAllocator(int rows, int cols, ScalarType dtype)
    {
        for (int i = 0; i < 4; i++)
        {
            using var poison = full([rows, cols], double.NaN, dtype, CUDA);
        }
    }

    private static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64);
        var e = expected.to(ScalarType.Float64);
        return (a - e).norm().item<double>() / e.norm().item<double>();
    }
}
