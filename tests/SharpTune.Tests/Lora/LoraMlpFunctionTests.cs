using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Layers;
using SharpTune.Tests.Models;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;
using static SharpTune.Tests.Lora.LoraTestProjections;

namespace SharpTune.Tests.Lora;

/// <summary>
/// <see cref="LoraMlpFunction"/> (through <see cref="Mlp.ForwardFusedLora"/>) against the autograd reference chain:
/// three <see cref="LoraLinear.ForwardReference"/> calls and silu(gate) * up. The projections have different ranks
/// and scalings, so a gradient computed with another projection's A, B or scaling is caught. In the global-generator
/// collection: it runs alone, so the live-tensor counts and the process memory readings are not disturbed.
/// </summary>
[Collection(GlobalRandomCollection.Name)]
public sealed class LoraMlpFunctionTests(ITestOutputHelper output)
{
    private const int Hidden = 24;
    private const int Intermediate = 64;

    public static TheoryData<ScalarType, LoraBaseKind, double> Cases => new()
    {
        { ScalarType.Float32, LoraBaseKind.Linear, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.LinearWithBias, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.Nf4, 1e-5 },
        { ScalarType.Float32, LoraBaseKind.Nf4WithBias, 1e-5 },
        { ScalarType.BFloat16, LoraBaseKind.Linear, 2e-2 },
        { ScalarType.BFloat16, LoraBaseKind.Nf4WithBias, 2e-2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Output_and_every_gradient_equal_the_reference_chain(ScalarType dtype, LoraBaseKind kind, double tolerance)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(31 + (ulong)kind);
        using var mlp = LoraMlp(kind, dtype, generator);
        Assert.True(mlp.CanFuseLora);
        var x = randn([2, 5, Hidden], generator: generator).to(dtype);
        var upstream = randn([2, 5, Hidden], generator: generator).to(dtype);

        var reference = Run(mlp, x, upstream, fused: false);
        var fused = Run(mlp, x, upstream, fused: true);

        Assert.Equal(dtype, fused.Y.dtype);
        Assert.Equal(x.shape, fused.Y.shape);
        Assert.Equal(dtype, fused.GradX!.dtype);
        Assert.Equal(x.shape, fused.GradX.shape);
        AssertClose("y", fused.Y, reference.Y, tolerance);
        AssertClose("grad x", fused.GradX, reference.GradX!, tolerance);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(ScalarType.Float32, fused.Adapters[i]!.dtype);
            AssertClose($"grad {AdapterNames[i]}", fused.Adapters[i]!, reference.Adapters[i]!, tolerance);
        }
    }

    [Theory]
    [InlineData(LoraBaseKind.LinearWithBias)]
    [InlineData(LoraBaseKind.Nf4)]
    public void Without_the_output_value_the_gradients_are_the_same_and_the_output_is_zeros(LoraBaseKind kind)
    {
        // What a checkpointed layer's recompute asks for: the graph to backpropagate through, not the MLP's output.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(41 + (ulong)kind);
        using var mlp = LoraMlp(kind, ScalarType.Float32, generator);
        var x = randn([2, 5, Hidden], generator: generator);
        var upstream = randn([2, 5, Hidden], generator: generator);

        var full = Run(mlp, x, upstream, fused: true);
        var graphOnly = Run(mlp, x, upstream, fused: true, outputValueNeeded: false);

        Assert.Equal(x.shape, graphOnly.Y.shape);
        Assert.True(graphOnly.Y.eq(0).all().item<bool>(), "the output's value was computed");
        Assert.True(full.Y.abs().max().item<float>() > 0);
        Assert.True(graphOnly.GradX!.allclose(full.GradX!, rtol: 0, atol: 0), "grad x differs");
        for (int i = 0; i < 6; i++)
        {
            Assert.True(graphOnly.Adapters[i]!.allclose(full.Adapters[i]!, rtol: 0, atol: 0), $"grad {AdapterNames[i]} differs");
        }
    }

    [Fact]
    public void Output_and_gradients_equal_the_closed_form_in_float64()
    {
        // Independent of both forward paths. g = x Wg^T + sg x Ag^T Bg^T, u likewise, h = silu(g) u,
        // y = h Wd^T + sd h Ad^T Bd^T; with dh = dy Wd + sd dy Bd Ad, dg = dh u s (1 + g (1 - s)), du = dh g s:
        // grad_Bp = sp dOut^T (in Ap^T), grad_Ap = sp (dOut Bp)^T in, grad_x = sum over gate, up of dOut Wp + sp dOut Bp Ap.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var f64 = ScalarType.Float64;
        (Tensor W, Tensor A, Tensor B, double S) Projection(long inFeatures, long outFeatures, int rank, double scaling) => (
            randn([outFeatures, inFeatures], f64, generator: generator) * 0.3,
            randn([rank, inFeatures], f64, generator: generator).requires_grad_(true),
            randn([outFeatures, rank], f64, generator: generator).requires_grad_(true),
            scaling);
        var gate = Projection(9, 13, 3, 3.0);
        var up = Projection(9, 13, 2, 0.5);
        var down = Projection(13, 9, 4, 1.75);
        var x = randn([4, 9], f64, generator: generator).requires_grad_(true);
        var dy = randn([4, 9], f64, generator: generator);

        var y = LoraMlpFunction.Apply(x, Weights(gate), Weights(up), Weights(down));
        y.backward([dy]);
        BackwardResults.ReleaseCurrentThread();

        using var noGrad = no_grad();
        var g = x.matmul(gate.W.t()) + gate.S * x.matmul(gate.A.t()).matmul(gate.B.t());
        var u = x.matmul(up.W.t()) + up.S * x.matmul(up.A.t()).matmul(up.B.t());
        var s = g.sigmoid();
        var h = g * s * u;
        var expectedY = h.matmul(down.W.t()) + down.S * h.matmul(down.A.t()).matmul(down.B.t());
        var dh = dy.matmul(down.W) + down.S * dy.matmul(down.B).matmul(down.A);
        var dg = dh * u * s * (1 + g * (1 - s));
        var du = dh * g * s;
        AssertExact("y", y, expectedY);
        AssertExact("grad Bd", down.B.grad!, down.S * dy.t().matmul(h.matmul(down.A.t())));
        AssertExact("grad Ad", down.A.grad!, down.S * dy.matmul(down.B).t().matmul(h));
        AssertExact("grad Bg", gate.B.grad!, gate.S * dg.t().matmul(x.matmul(gate.A.t())));
        AssertExact("grad Ag", gate.A.grad!, gate.S * dg.matmul(gate.B).t().matmul(x));
        AssertExact("grad Bu", up.B.grad!, up.S * du.t().matmul(x.matmul(up.A.t())));
        AssertExact("grad Au", up.A.grad!, up.S * du.matmul(up.B).t().matmul(x));
        AssertExact("grad x", x.grad!,
            dg.matmul(gate.W) + gate.S * dg.matmul(gate.B).matmul(gate.A) + du.matmul(up.W) + up.S * du.matmul(up.B).matmul(up.A));

        static LoraProjectionWeights Weights((Tensor W, Tensor A, Tensor B, double S) p) => new(p.A, p.B, p.W, null, p.S);
    }

    [Fact]
    public void A_frozen_input_still_trains_every_adapter()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(6);
        using var mlp = LoraMlp(LoraBaseKind.Nf4, ScalarType.Float32, generator);
        var x = randn([3, Hidden], generator: generator);
        var upstream = randn([3, Hidden], generator: generator);

        var reference = Run(mlp, x, upstream, fused: false, inputRequiresGrad: false);
        var fused = Run(mlp, x, upstream, fused: true, inputRequiresGrad: false);

        Assert.Null(fused.GradX);
        for (int i = 0; i < 6; i++)
        {
            AssertClose($"grad {AdapterNames[i]}", fused.Adapters[i]!, reference.Adapters[i]!, 1e-5);
        }
    }

    [Fact]
    public void Only_the_adapters_that_require_grad_get_one()
    {
        // Down's adapters alone (gate, up and x frozen: the backward skips dh and the SwiGLU backward), then the input
        // alone (all adapters frozen), then up's B alone.
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        using var mlp = LoraMlp(LoraBaseKind.LinearWithBias, ScalarType.Float32, generator);
        var x = randn([3, Hidden], generator: generator);
        var upstream = randn([3, Hidden], generator: generator);
        var adapters = Adapters(mlp);

        SetTrainable(adapters, [false, false, false, false, true, true]);
        var reference = Run(mlp, x, upstream, fused: false, inputRequiresGrad: false);
        var fused = Run(mlp, x, upstream, fused: true, inputRequiresGrad: false);
        Assert.All(fused.Adapters.Take(4), Assert.Null);
        AssertClose("grad Ad", fused.Adapters[4]!, reference.Adapters[4]!, 1e-5);
        AssertClose("grad Bd", fused.Adapters[5]!, reference.Adapters[5]!, 1e-5);

        SetTrainable(adapters, [false, false, false, false, false, false]);
        reference = Run(mlp, x, upstream, fused: false);
        fused = Run(mlp, x, upstream, fused: true);
        Assert.All(fused.Adapters, Assert.Null);
        AssertClose("grad x", fused.GradX!, reference.GradX!, 1e-5);

        SetTrainable(adapters, [false, false, false, true, false, false]);
        reference = Run(mlp, x, upstream, fused: false, inputRequiresGrad: false);
        fused = Run(mlp, x, upstream, fused: true, inputRequiresGrad: false);
        Assert.Equal([false, false, false, true, false, false], fused.Adapters.Select(g => g is not null));
        AssertClose("grad Bu", fused.Adapters[3]!, reference.Adapters[3]!, 1e-5);
    }

    [Fact]
    public void Without_a_wanted_gradient_the_forward_builds_no_node()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(8);
        using var mlp = LoraMlp(LoraBaseKind.Nf4WithBias, ScalarType.Float32, generator);
        var x = randn([4, Hidden], generator: generator);
        var expected = Reference(mlp, x).detach();

        using (no_grad())
        {
            var y = mlp.ForwardFusedLora(x.requires_grad_(true));
            Assert.False(y.requires_grad);
            AssertClose("y without grad", y, expected, 1e-5);
        }

        x.requires_grad_(false);
        SetTrainable(Adapters(mlp), [false, false, false, false, false, false]);
        var frozen = mlp.ForwardFusedLora(x);
        Assert.False(frozen.requires_grad);
        AssertClose("y with nothing trainable", frozen, expected, 1e-5);
    }

    [Fact]
    public void A_missing_output_gradient_gives_no_gradients()
    {
        // Gradients are not materialized (CustomFunctionCall): when no gradient reaches y, backward gets none and
        // must pass none on (not zeros, not an exception).
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(9);
        using var mlp = LoraMlp(LoraBaseKind.Linear, ScalarType.Float32, generator);
        var x = randn([3, Hidden], generator: generator).requires_grad_(true);
        var blocked = GradientBlocker.apply(mlp.ForwardFusedLora(x));
        blocked.sum().backward();
        BackwardResults.ReleaseCurrentThread();
        Assert.True(GradientBlocker.Called, "the blocking node's backward did not run");
        Assert.Null(x.grad);
        Assert.All(Adapters(mlp), p => Assert.Null(p.grad));
    }

    [Fact]
    public void The_held_graph_is_smaller_than_the_reference_chains_by_at_least_one_intermediate_tensor()
    {
        // The native memory held with each graph (what malloc has handed out, where libtorch's CPU tensors live). The
        // reference chain keeps gate, up, silu(gate) and h [tokens, intermediate]; the fused node keeps gate and up
        // (three LoraProjectionFunction nodes and the SwiGLU node, today's CUDA path, would keep h as well: that is
        // covered by the GPU test). Each is 64 MiB in float32.
        SingleThreadedTorch.Initialize();
        const long tokens = 2048;
        const long intermediate = 8192;
        var generator = new Generator(10);
        using var mlp = LoraMlp(LoraBaseKind.Linear, ScalarType.Float32, generator, hidden: 16, intermediate: intermediate, rank: 2);
        using var x = randn([tokens, 16], generator: generator).requires_grad_(true);

        HeldBytes(() => Reference(mlp, x)); // once each first: the allocator's own state settles before the readings
        HeldBytes(() => mlp.ForwardFusedLora(x));
        long referenceHeld = HeldBytes(() => Reference(mlp, x));
        long fusedHeld = HeldBytes(() => mlp.ForwardFusedLora(x));
        long oneIntermediate = tokens * intermediate * sizeof(float);
        output.WriteLine($"held with the graph: reference chain {referenceHeld >> 20} MiB, fused {fusedHeld >> 20} MiB (one intermediate tensor {oneIntermediate >> 20} MiB)");
        Assert.True(referenceHeld >= 4 * oneIntermediate * 9 / 10, $"the reference chain holds only {referenceHeld >> 20} MiB: the measurement does not see its graph");
        Assert.True(fusedHeld <= referenceHeld - oneIntermediate,
            $"the fused MLP holds {fusedHeld >> 20} MiB, the reference chain {referenceHeld >> 20} MiB: less than one {oneIntermediate >> 20} MiB tensor saved");
        Assert.True(fusedHeld <= 2 * oneIntermediate + oneIntermediate / 4, $"the fused MLP holds {fusedHeld >> 20} MiB: more than gate and up");

        static long HeldBytes(Func<Tensor> forward)
        {
            long before = NativeHeapMemory.Bytes();
            using var y = forward();
            return NativeHeapMemory.Bytes() - before;
        }
    }

    [Fact]
    public void Repeated_forward_and_backward_leaves_no_tensor_alive()
    {
        SingleThreadedTorch.Initialize();
        var generator = new Generator(11);
        using var mlp = LoraMlp(LoraBaseKind.Nf4WithBias, ScalarType.Float32, generator);
        using var x = randn([2, 3, Hidden], generator: generator);
        using var upstream = randn([2, 3, Hidden], generator: generator);
        void Step()
        {
            using var scope = NewDisposeScope();
            var input = x.detach().requires_grad_(true);
            mlp.ForwardFusedLora(input).backward([upstream]);
            mlp.zero_grad();
        }

        LiveTensorCount.AssertNoGrowth(Step);
    }

    [Fact]
    public void On_cpu_forward_is_the_per_projection_path_and_the_fused_mlp_needs_three_fusable_lora_projections()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var generator = new Generator(12);
        using var mlp = LoraMlp(LoraBaseKind.Linear, ScalarType.Float32, generator, dropout: 0.1);
        var x = randn([3, Hidden], generator: generator);
        using var noGrad = no_grad();
        mlp.eval();
        Assert.True(mlp.CanFuseLora);
        Assert.True(mlp.forward(x).Same(mlp.ForwardPerProjection(x)));
        AssertClose("eval fused", mlp.ForwardFusedLora(x), Reference(mlp, x), 1e-5);

        mlp.train(); // active dropout: LoraLinear.CanFuse is false
        Assert.False(mlp.CanFuseLora);
        Assert.Throws<InvalidOperationException>(() => mlp.ForwardFusedLora(x));

        using var plain = new Mlp(Config(Hidden, Intermediate), ScalarType.Float32);
        Assert.False(plain.CanFuseLora);
    }

    private static readonly string[] AdapterNames = ["Ag", "Bg", "Au", "Bu", "Ad", "Bd"];

    /// <summary>Passes its input on in forward; backward gives no gradient (what an unused output receives).</summary>
    private sealed class GradientBlocker : SingleTensorFunction<GradientBlocker>
    {
        [ThreadStatic]
        public static bool Called;

        public override string Name => "TestGradientBlocker";

        public override Tensor forward(AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).clone();

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
        {
            Called = true;
            return [null!];
        }
    }

    private static ModelConfig Config(int hidden, long intermediate) =>
        TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 64, 1, [2]) with { HiddenSize = hidden, IntermediateSize = (int)intermediate };

    /// <summary>An Mlp whose gate, up and down are LoRA projections of ranks 4, 3, 2 and scalings 2.5, 0.75, 1.5.</summary>
    private static Mlp LoraMlp(LoraBaseKind kind, ScalarType dtype, Generator generator, int hidden = Hidden, long intermediate = Intermediate, int? rank = null, double dropout = 0)
    {
        var mlp = new Mlp(Config(hidden, intermediate), dtype);
        (string Name, long In, long Out, int Rank, double Scaling)[] projections =
        [
            ("gate_proj", hidden, intermediate, rank ?? 4, 2.5),
            ("up_proj", hidden, intermediate, rank ?? 3, 0.75),
            ("down_proj", intermediate, hidden, rank ?? 2, 1.5),
        ];
        foreach (var p in projections)
        {
            // Weights 1/sqrt(in) keep every output about as large as its input; B makes each update about as large.
            mlp.ReplaceProjection(p.Name, _ => LoraTestProjections.Create(kind, dtype, p.In, p.Out, p.Rank, p.Scaling, dropout, generator,
                weightScale: 1 / Math.Sqrt(p.In), bScale: 0.6 / p.Rank));
        }

        return mlp;
    }

    private static Parameter[] Adapters(Mlp mlp) =>
    [
        .. new[] { mlp.GateProj, mlp.UpProj, mlp.DownProj }.Cast<LoraLinear>().SelectMany(l => new[] { l.LoraA, l.LoraB }),
    ];

    private static void SetTrainable(Parameter[] adapters, bool[] trainable)
    {
        for (int i = 0; i < adapters.Length; i++)
        {
            adapters[i].requires_grad = trainable[i];
        }
    }

    /// <summary>The reference chain: down(silu(gate(x)) * up(x)), each projection <see cref="LoraLinear.ForwardReference"/>.</summary>
    private static Tensor Reference(Mlp mlp, Tensor x)
    {
        using var scope = NewDisposeScope();
        var (gate, up, down) = ((LoraLinear)mlp.GateProj, (LoraLinear)mlp.UpProj, (LoraLinear)mlp.DownProj);
        var h = nn.functional.silu(gate.ForwardReference(x)) * up.ForwardReference(x);
        return down.ForwardReference(h).MoveToOuterDisposeScope();
    }

    private static (Tensor Y, Tensor? GradX, Tensor?[] Adapters) Run(Mlp mlp, Tensor x, Tensor upstream, bool fused, bool inputRequiresGrad = true, bool outputValueNeeded = true)
    {
        mlp.zero_grad();
        foreach (var p in Adapters(mlp))
        {
            p.grad = null;
        }

        var input = x.detach().clone().requires_grad_(inputRequiresGrad);
        var y = fused ? mlp.ForwardFusedLora(input, outputValueNeeded) : Reference(mlp, input);
        y.backward([upstream]);
        BackwardResults.ReleaseCurrentThread();
        return (y.detach(), input.grad?.clone(), [.. Adapters(mlp).Select(p => p.grad?.clone())]);
    }

    private static void AssertExact(string what, Tensor actual, Tensor expected) =>
        Assert.True(actual.allclose(expected, rtol: 1e-12, atol: 1e-12), $"{what} differs from the closed form");
}
