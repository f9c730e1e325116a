using SharpTune.Kernels;
using SharpTune.Kernels.RmsNorm;
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
        using var scope = NewDisposeScope();
        var x64 = randn([rows, cols], ScalarType.Float64, CUDA) * 3 + 0.5;
        var w64 = randn([cols], ScalarType.Float64, CUDA) * 0.2 + 1;
        var dy64 = randn([rows, cols], ScalarType.Float64, CUDA);

        var truth = Run(x64, w64, dy64, fused: false);
        var reference = Run(x64.to(dtype), w64.to(dtype), dy64.to(dtype), fused: false);
        KernelComparison.PoisonCachingAllocator((long)rows * cols, dtype);
        var fused = Run(x64.to(dtype), w64.to(dtype), dy64.to(dtype), fused: true);

        KernelComparison.AssertAsAccurateAsReference($"rmsnorm forward {rows}x{cols}", fused.Y, reference.Y, truth.Y, dtype, output);
        KernelComparison.AssertAsAccurateAsReference($"rmsnorm backward {rows}x{cols}", fused.Dx, reference.Dx, truth.Dx, dtype, output);
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
        Assert.True(KernelComparison.RelativeError(w1.grad!, w2.grad!) < 1e-5);
    }

    private static (Tensor Y, Tensor Dx) Run(Tensor x, Tensor w, Tensor dy, bool fused) => KernelComparison.With(fused, () =>
    {
        var input = x.detach().clone().requires_grad_(true);
        var y = FusedRmsNorm.Apply(input, w, 1e-6);
        y.backward([dy]);
        return (y.detach(), input.grad!);
    });
}
