using SharpTune.Kernels.Rope;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

public sealed class RopeKernelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 4, 37, 64, 1, ScalarType.Float32)]
    [InlineData(2, 32, 2048, 128, 2, ScalarType.BFloat16)]
    [InlineData(3, 8, 100, 128, 1, ScalarType.Float16)]
    public void Fused_forward_and_backward_match_the_reference(int batch, int heads, int seq, int dim, int cosBatch, ScalarType dtype)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var x64 = randn([batch, heads, seq, dim], ScalarType.Float64, CUDA);
        var angles = rand([cosBatch, seq, dim / 2], ScalarType.Float64, device: CUDA) * 50;
        var both = cat([angles, angles], -1);
        var (cos64, sin64) = (both.cos(), both.sin());
        var dy64 = randn([batch, heads, seq, dim], ScalarType.Float64, CUDA);
        var truth = Run(x64, cos64, sin64, dy64, fused: false);
        var reference = Run(x64.to(dtype), cos64.to(dtype), sin64.to(dtype), dy64.to(dtype), fused: false);
        KernelComparison.PoisonCachingAllocator(x64.numel(), dtype);
        var fused = Run(x64.to(dtype), cos64.to(dtype), sin64.to(dtype), dy64.to(dtype), fused: true);
        KernelComparison.AssertAsAccurateAsReference("rope forward", fused.Y, reference.Y, truth.Y, dtype, output);
        KernelComparison.AssertAsAccurateAsReference("rope backward", fused.Dx, reference.Dx, truth.Dx, dtype, output);
    }

    private static (Tensor Y, Tensor Dx) Run(Tensor x, Tensor cos, Tensor sin, Tensor dy, bool fused) => KernelComparison.With(fused, () =>
    {
        var input = x.detach().clone().requires_grad_(true);
        var y = FusedRope.Apply(input, cos, sin);
        y.backward([dy]);
        return (y.detach(), input.grad!);
    });
}
