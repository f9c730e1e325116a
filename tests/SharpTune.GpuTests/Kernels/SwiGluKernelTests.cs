using SharpTune.Kernels.SwiGlu;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

public sealed class SwiGluKernelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(3, 1001, ScalarType.Float32)]
    [InlineData(4096, 14336, ScalarType.BFloat16)]
    [InlineData(17, 777, ScalarType.Float16)]
    public void Fused_forward_and_backward_match_the_reference(int rows, int cols, ScalarType dtype)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var g64 = randn([rows, cols], ScalarType.Float64, CUDA) * 2;
        var u64 = randn([rows, cols], ScalarType.Float64, CUDA);
        var dh64 = randn([rows, cols], ScalarType.Float64, CUDA);
        var truth = Run(g64, u64, dh64, fused: false);
        var reference = Run(g64.to(dtype), u64.to(dtype), dh64.to(dtype), fused: false);
        KernelComparison.PoisonCachingAllocator((long)rows * cols, dtype);
        var fused = Run(g64.to(dtype), u64.to(dtype), dh64.to(dtype), fused: true);
        KernelComparison.AssertAsAccurateAsReference("swiglu forward", fused.H, reference.H, truth.H, dtype, output);
        KernelComparison.AssertAsAccurateAsReference("swiglu dgate", fused.Dg, reference.Dg, truth.Dg, dtype, output);
        KernelComparison.AssertAsAccurateAsReference("swiglu dup", fused.Du, reference.Du, truth.Du, dtype, output);
    }

    private static (Tensor H, Tensor Dg, Tensor Du) Run(Tensor g, Tensor u, Tensor dh, bool fused) => KernelComparison.With(fused, () =>
    {
        var gate = g.detach().clone().requires_grad_(true);
        var up = u.detach().clone().requires_grad_(true);
        var h = FusedSwiGlu.Apply(gate, up);
        h.backward([dh]);
        return (h.detach(), gate.grad!, up.grad!);
    });
}
