using SharpTune.Lora;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;
using static SharpTune.Tests.Lora.LoraTestProjections;

namespace SharpTune.Tests.Lora;

/// <summary>
/// <see cref="LoraProjectionFunction"/> against the autograd reference (<see cref="LoraLinear.ForwardReference"/>).
/// In the global-generator collection: it runs alone, so the dropout test's reseeding and the live-tensor count are
/// not disturbed by other tests.
/// </summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class LoraProjectionFunctionTests
{
    public static TheoryData<ScalarType, LoraBaseKind, double> Cases => new()
    {
        { ScalarType.Float32, LoraBaseKind.Linear, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.LinearWithBias, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.Nf4, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.Nf4WithBias, 1e-5 },
        { ScalarType.BFloat16, LoraBaseKind.Linear, 2e-2 },
        { ScalarType.BFloat16, LoraBaseKind.LinearWithBias, 2e-2 },
        { ScalarType.BFloat16, LoraBaseKind.Nf4, 2e-2 },
        { ScalarType.BFloat16, LoraBaseKind.Nf4WithBias, 2e-2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Output_and_gradients_equal_the_autograd_reference(ScalarType dtype, LoraBaseKind kind, double tolerance)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(21 + (ulong)kind);
        using var lora = Projection(kind, dtype, 48, 40, rank: 4, scaling: 2.5, dropout: 0, generator);
        Assert.True(lora.CanFuse);
        var x = randn([2, 5, 48], generator: generator).to(dtype);
        var upstream = randn([2, 5, 40], generator: generator).to(dtype);

        var reference = Run(lora, x, upstream, fused: false);
        var fused = Run(lora, x, upstream, fused: true);

        Assert.Equal(dtype, fused.Y.dtype);
        Assert.Equal(new long[] { 2, 5, 40 }, fused.Y.shape);
        Assert.Equal(dtype, fused.GradX.dtype);
        Assert.Equal(new long[] { 2, 5, 48 }, fused.GradX.shape);
        Assert.Equal(ScalarType.Float32, fused.GradA.dtype);
        Assert.Equal(ScalarType.Float32, fused.GradB.dtype);
        AssertClose("y", fused.Y, reference.Y, tolerance);
        AssertClose("grad x", fused.GradX, reference.GradX, tolerance);
        AssertClose("grad A", fused.GradA, reference.GradA, tolerance);
        AssertClose("grad B", fused.GradB, reference.GradB, tolerance);
    }

    [Fact]
    public void Gradients_equal_the_closed_form_with_the_scaling_on_A_and_B()
    {
        // Independent of both forward paths: y = x W^T + s x A^T B^T, so grad_B = s dy^T (x A^T), grad_A = s (dy B)^T x,
        // grad_x = dy W + s dy B A. With s = 3 a gradient that lost its scaling is off by 3x.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        const double s = 3.0;
        var w = randn([7, 9], ScalarType.Float64, generator: generator);
        var a = randn([3, 9], ScalarType.Float64, generator: generator).requires_grad_(true);
        var b = randn([7, 3], ScalarType.Float64, generator: generator).requires_grad_(true);
        var x = randn([4, 9], ScalarType.Float64, generator: generator).requires_grad_(true);
        var dy = randn([4, 7], ScalarType.Float64, generator: generator);

        var y = LoraProjectionFunction.Apply(x, a, b, w, null, s);
        y.backward([dy]);
        BackwardResults.ReleaseCurrentThread();

        using var noGrad = no_grad();
        Assert.True(y.allclose(x.matmul(w.t()) + s * x.matmul(a.t()).matmul(b.t()), rtol: 1e-12, atol: 1e-12));
        Assert.True(b.grad!.allclose(s * dy.t().matmul(x.matmul(a.t())), rtol: 1e-12, atol: 1e-12), "grad_B");
        Assert.True(a.grad!.allclose(s * dy.matmul(b).t().matmul(x), rtol: 1e-12, atol: 1e-12), "grad_A");
        Assert.True(x.grad!.allclose(dy.matmul(w) + s * dy.matmul(b).matmul(a), rtol: 1e-12, atol: 1e-12), "grad_x");
    }

    [Fact]
    public void An_input_without_grad_still_trains_A_and_B_and_frozen_adapters_still_pass_grad_x()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(6);
        using var lora = Projection(LoraBaseKind.Nf4, ScalarType.Float32, 32, 24, rank: 4, scaling: 0.5, dropout: 0, generator);
        var x = randn([3, 32], generator: generator);
        var upstream = randn([3, 24], generator: generator);

        // The frozen embeddings' output: x needs no gradient.
        var reference = Run(lora, x, upstream, fused: false, inputRequiresGrad: false);
        var fused = Run(lora, x, upstream, fused: true, inputRequiresGrad: false);
        AssertClose("grad A", fused.GradA, reference.GradA, 1e-5);
        AssertClose("grad B", fused.GradB, reference.GradB, 1e-5);

        // Adapters frozen (A and B need no gradient): grad_x alone.
        lora.LoraA.grad = null;
        lora.LoraB.grad = null;
        lora.LoraA.requires_grad = false;
        lora.LoraB.requires_grad = false;
        var xr = x.detach().clone().requires_grad_(true);
        lora.ForwardReference(xr).backward([upstream]);
        var xf = x.detach().clone().requires_grad_(true);
        lora.ForwardFused(xf).backward([upstream]);
        BackwardResults.ReleaseCurrentThread();
        AssertClose("grad x", xf.grad!, xr.grad!, 1e-5);
        Assert.Null(lora.LoraA.grad);
    }

    [Fact]
    public void Forward_without_grad_builds_no_graph()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        using var lora = Projection(LoraBaseKind.LinearWithBias, ScalarType.Float32, 16, 8, rank: 2, scaling: 2, dropout: 0, generator);
        var x = randn([4, 16], generator: generator);
        using var noGrad = no_grad();
        var y = lora.ForwardFused(x);
        Assert.False(y.requires_grad);
        Assert.True(y.allclose(lora.ForwardReference(x), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Only_a_frozen_linear_or_nf4_base_without_active_dropout_can_fuse()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(8);
        using var withDropout = Projection(LoraBaseKind.Linear, ScalarType.Float32, 16, 8, rank: 2, scaling: 1, dropout: 0.1, generator);
        withDropout.train();
        Assert.False(withDropout.CanFuse);
        Assert.Throws<InvalidOperationException>(() => withDropout.ForwardFused(randn([2, 16])));
        withDropout.eval();
        Assert.True(withDropout.CanFuse);

        using var other = new LoraLinear(nn.Sequential(nn.Linear(16, 8)), 16, 8, 2, 1, 0, generator);
        Assert.False(other.CanFuse);
    }

    [Fact]
    public void Training_with_dropout_takes_the_reference_path_with_its_dropout_mask()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(9);
        using var lora = Projection(LoraBaseKind.Linear, ScalarType.Float32, 32, 16, rank: 4, scaling: 2, dropout: 0.5, generator);
        lora.train();
        var x = randn([6, 32], generator: generator);
        var a = lora.LoraA.detach();
        var b = lora.LoraB.detach();

        manual_seed(1);
        var first = lora.forward(x);
        manual_seed(1);
        var expected = lora.BaseLayer.forward(x) + 2 * nn.functional.dropout(x, 0.5, true).matmul(a.t()).matmul(b.t());
        manual_seed(2);
        var second = lora.forward(x);

        Assert.True(first.allclose(expected, rtol: 1e-5, atol: 1e-6), "forward is not base + scaling * B A dropout(x)");
        Assert.False(first.allclose(second, rtol: 1e-3, atol: 1e-3), "two dropout masks gave the same output");

        // In evaluation mode dropout is off: the fused path applies and the seed no longer matters.
        lora.eval();
        Assert.True(lora.CanFuse);
        manual_seed(1);
        var evaluated = lora.forward(x);
        manual_seed(2);
        Assert.True(evaluated.allclose(lora.forward(x)));
        Assert.True(evaluated.allclose(lora.ForwardFused(x), rtol: 1e-5, atol: 1e-6));
        Assert.True(evaluated.allclose(lora.BaseLayer.forward(x) + 2 * x.matmul(a.t()).matmul(b.t()), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Repeated_forward_and_backward_leaves_no_tensor_alive()
    {
        SingleThreadedTorch.Initialize();
        var generator = new Generator(10);
        using var lora = Projection(LoraBaseKind.Nf4WithBias, ScalarType.Float32, 64, 32, rank: 4, scaling: 2, dropout: 0, generator);
        using var x = randn([2, 3, 64], generator: generator);
        using var upstream = randn([2, 3, 32], generator: generator);
        void Step()
        {
            using var scope = NewDisposeScope();
            var input = x.detach().requires_grad_(true);
            lora.ForwardFused(input).backward([upstream]);
            lora.zero_grad();
        }

        LiveTensorCount.AssertNoGrowth(Step);
    }

    [Fact]
    public void A_call_that_builds_a_graph_leaves_only_its_output_alive()
    {
        // The saved tensors are held by libtorch's node, not by wrappers in the caller's scope, and TorchSharp's
        // output-sized empty_like kept for materializing gradients is freed at once.
        SingleThreadedTorch.Initialize();
        var generator = new Generator(11);
        using var lora = Projection(LoraBaseKind.Linear, ScalarType.Float32, 16, 8, rank: 2, scaling: 2, dropout: 0, generator);
        using var x = randn([3, 16], generator: generator).requires_grad_(true);
        using var upstream = randn([3, 8], generator: generator);
        long before = Tensor.TotalCount;
        using (var y = lora.ForwardFused(x))
        {
            Assert.Equal(before + 1, Tensor.TotalCount);
            y.backward([upstream]);
        }

        BackwardResults.ReleaseCurrentThread();
        Assert.NotNull(lora.LoraB.grad);
    }

    private static LoraLinear Projection(LoraBaseKind kind, ScalarType dtype, long inFeatures, long outFeatures, int rank, double scaling, double dropout, Generator generator) =>
        LoraTestProjections.Create(kind, dtype, inFeatures, outFeatures, rank, scaling, dropout, generator, weightScale: 0.2, bScale: 0.3);

    private static (Tensor Y, Tensor GradX, Tensor GradA, Tensor GradB) Run(LoraLinear lora, Tensor x, Tensor upstream, bool fused, bool inputRequiresGrad = true)
    {
        lora.zero_grad();
        var input = x.detach().clone().requires_grad_(inputRequiresGrad);
        var y = fused ? lora.ForwardFused(input) : lora.ForwardReference(input);
        y.backward([upstream]);
        BackwardResults.ReleaseCurrentThread();
        var gradX = inputRequiresGrad ? input.grad!.clone() : zeros(1);
        return (y.detach(), gradX, lora.LoraA.grad!.clone(), lora.LoraB.grad!.clone());
    }
}
