using SharpTune.GpuTests.Kernels;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Layers;
using SharpTune.Quantization;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Lora;

/// <summary>
/// <see cref="LoraMlpFunction"/> (what <see cref="Mlp.forward"/> takes on CUDA when its three projections are LoRA)
/// against the autograd reference chain (three <see cref="LoraLinear.ForwardReference"/> and silu(gate) * up) and the
/// float64 truth, in bf16 on a 16-bit and an NF4 base; the memory its graph holds against today's per-projection
/// path (three <see cref="LoraProjectionFunction"/> nodes and the fused SwiGLU node) and the reference chain; no
/// growth over 20 calls.
/// </summary>
public sealed class LoraMlpFunctionGpuTests(ITestOutputHelper output)
{
    private const int Rank = 16;
    private const double Scaling = 2.0; // alpha 32 / r 16

    // As in LoraProjectionFunctionGpuTests: the fused path must be as accurate as the reference against the float64
    // truth (KernelComparison) and within 1e-2 of it. B is drawn so each update is about half its base's output.
    private const double MaxDifferenceFromReference = 1e-2;

    private static readonly string[] AdapterNames = ["Ag", "Bg", "Au", "Bu", "Ad", "Bd"];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bf16_output_and_gradients_match_the_reference_chain_and_the_float64_truth(bool nf4)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(14);
        using var mlp = LoraMlp(hidden: 4096, intermediate: 14336, nf4, bias: nf4);
        var x = randn([2, 512, 4096], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        var dy = randn([2, 512, 4096], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);

        var truth = Truth(mlp, x, dy);
        var reference = Run(mlp, x, dy, fused: false);
        var fused = Run(mlp, x, dy, fused: true);

        string what = $"lora mlp {(nf4 ? "nf4 +bias" : "bf16")} 4096->14336->4096";
        var names = new[] { "y", "grad_x" }.Concat(AdapterNames.Select(n => $"grad_{n}")).ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            var (f, r, t) = (fused[i], reference[i], truth[i]);
            KernelComparison.AssertAsAccurateAsReference($"{what} {names[i]}", f, r, t, ScalarType.BFloat16, output);
            double difference = KernelComparison.RelativeError(f, r);
            output.WriteLine($"{what} {names[i]}: fused vs reference {difference:E2}");
            Assert.True(difference <= MaxDifferenceFromReference, $"{what} {names[i]}: fused differs from the reference by {difference:E2}");
        }

        Assert.Equal(x.shape, fused[1].shape);
        Assert.All(fused.Skip(2), g => Assert.Equal(ScalarType.Float32, g.dtype));
    }

    [Fact]
    public void Forward_on_cuda_is_the_fused_mlp_and_with_kernels_off_the_per_projection_path()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(15);
        using var mlp = LoraMlp(hidden: 1024, intermediate: 4096, nf4: true, bias: false);
        var x = randn([2, 256, 1024], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        using var noGrad = no_grad();
        Assert.True(mlp.CanFuseLora);
        Assert.True(Identical(KernelComparison.With(true, () => mlp.forward(x)), KernelComparison.With(true, () => mlp.ForwardFusedLora(x))),
            "forward on CUDA is not the fused LoRA MLP");
        Assert.True(Identical(KernelComparison.With(false, () => mlp.forward(x)), KernelComparison.With(false, () => mlp.ForwardPerProjection(x))),
            "SHARPTUNE_KERNELS=off must give the per-projection path");
    }

    [Fact]
    public void The_graph_holds_one_intermediate_tensor_less_than_the_per_projection_path()
    {
        // tokens 4096, hidden 1024, intermediate 14336 (8B's): one tokens x intermediate bf16 tensor is 112 MiB, well
        // above the readings' granularity (CudaMemoryInUse). Held after forward, output included:
        // per-projection path (today's CUDA path): gate, up, h + y; reference chain: gate, up, silu(gate), h + y;
        // fused: gate, up + y. Each also keeps rank-16 intermediates and casts of A and B (< 1 MiB).
        _ = CudaFixture.Runtime;
        const long tokens = 4096, hidden = 1024, intermediate = 14336;
        manual_seed(16);
        using var mlp = LoraMlp(hidden, intermediate, nf4: false, bias: false);
        using var x = randn([tokens, hidden], ScalarType.Float32, CUDA).to(ScalarType.BFloat16).requires_grad_(true);
        using var memory = new CudaMemoryInUse();
        Func<Tensor> perProjection = () => KernelComparison.With(true, () => mlp.ForwardPerProjection(x));
        Func<Tensor> reference = () => ReferenceChain(mlp, x);
        Func<Tensor> fused = () => KernelComparison.With(true, () => mlp.ForwardFusedLora(x));
        foreach (var forward in new[] { perProjection, reference, fused })
        {
            HeldBytes(memory, forward); // cuBLAS workspaces and kernel modules are allocated once, before the readings
        }

        long perProjectionHeld = HeldBytes(memory, perProjection);
        long referenceHeld = HeldBytes(memory, reference);
        long fusedHeld = HeldBytes(memory, fused);
        long one = tokens * intermediate * 2;
        long outputBytes = tokens * hidden * 2;
        const long granularity = 20L << 20;
        output.WriteLine($"{memory.Source}: held after forward: per-projection {perProjectionHeld >> 20} MiB, reference chain {referenceHeld >> 20} MiB, " +
            $"fused {fusedHeld >> 20} MiB; one tokens x intermediate tensor {one >> 20} MiB, the output {outputBytes >> 20} MiB");

        Assert.True(perProjectionHeld >= 3 * one - granularity, $"the per-projection path holds {perProjectionHeld >> 20} MiB: the readings do not see its graph");
        Assert.True(fusedHeld <= referenceHeld - one, $"fused {fusedHeld >> 20} MiB is not one {one >> 20} MiB tensor below the reference chain's {referenceHeld >> 20} MiB");
        Assert.True(fusedHeld <= perProjectionHeld - one + granularity,
            $"fused {fusedHeld >> 20} MiB is not one {one >> 20} MiB tensor below the per-projection path's {perProjectionHeld >> 20} MiB");
        Assert.True(fusedHeld <= 2 * one + outputBytes + 2 * granularity, $"fused holds {fusedHeld >> 20} MiB: more than gate, up and the output");
    }

    [Fact]
    public void Twenty_forward_and_backward_calls_do_not_grow_gpu_memory()
    {
        _ = CudaFixture.Runtime;
        manual_seed(17);
        using var mlp = LoraMlp(hidden: 4096, intermediate: 14336, nf4: true, bias: false);
        using var x = randn([2, 512, 4096], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        using var dy = randn([2, 512, 4096], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        void Step()
        {
            using var scope = NewDisposeScope();
            var input = x.detach().requires_grad_(true);
            KernelComparison.With(true, () => mlp.forward(input)).backward([dy]);
            mlp.zero_grad();
        }

        using var memory = new CudaMemoryInUse();
        for (int i = 0; i < 3; i++)
        {
            Step();
        }

        long bytesBefore = memory.Bytes();
        long tensorsBefore = Tensor.TotalCount;
        for (int i = 0; i < 20; i++)
        {
            Step();
        }

        long bytesAfter = memory.Bytes();
        long tensorsAfter = Tensor.TotalCount;
        BackwardResults.ReleaseCurrentThread();
        output.WriteLine($"{memory.Source}: {bytesBefore >> 20} MiB before, {bytesAfter >> 20} MiB after 20 calls; live tensors {tensorsBefore} -> {tensorsAfter}");
        // One leaked gate or up is 28 MiB, one leaked dequantized weight 112 MiB: 20 calls of either show far above 64 MiB.
        Assert.True(bytesAfter - bytesBefore <= 64L << 20, $"GPU memory grew by {(bytesAfter - bytesBefore) >> 20} MiB");
        Assert.True(tensorsAfter <= tensorsBefore, $"{tensorsAfter - tensorsBefore} tensors more alive after 20 calls");
    }

    /// <summary>Memory in use with the graph of one forward held (its output too), minus before.</summary>
    private static long HeldBytes(CudaMemoryInUse memory, Func<Tensor> forward)
    {
        long before = memory.Bytes();
        using var y = forward();
        return memory.Bytes() - before;
    }

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>An Mlp of bf16 (or NF4) bases with LoRA r 16 on all three projections, on CUDA.</summary>
    private static Mlp LoraMlp(long hidden, long intermediate, bool nf4, bool bias)
    {
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 64, 1, [2]) with { HiddenSize = (int)hidden, IntermediateSize = (int)intermediate };
        var mlp = new Mlp(config, ScalarType.BFloat16);
        foreach (var (name, inFeatures, outFeatures) in new[] { ("gate_proj", hidden, intermediate), ("up_proj", hidden, intermediate), ("down_proj", intermediate, hidden) })
        {
            mlp.ReplaceProjection(name, _ => Projection(inFeatures, outFeatures, nf4, bias));
        }

        return mlp;
    }

    private static LoraLinear Projection(long inFeatures, long outFeatures, bool nf4, bool bias)
    {
        LoraLinear lora;
        using (var scope = NewDisposeScope())
        {
            var weight = randn([outFeatures, inFeatures], ScalarType.Float32, CUDA) / Math.Sqrt(inFeatures);
            var b = bias ? (randn([outFeatures], ScalarType.Float32, CUDA) * 0.5).to(ScalarType.BFloat16) : null;
            nn.Module<Tensor, Tensor> baseLayer;
            if (nf4)
            {
                baseLayer = Nf4Linear.FromWeight(weight, b);
            }
            else
            {
                var linear = nn.Linear(inFeatures, outFeatures, hasBias: bias, device: CUDA, dtype: ScalarType.BFloat16);
                using (no_grad())
                {
                    linear.weight!.copy_(weight);
                    linear.bias?.copy_(b!);
                }

                baseLayer = linear;
            }

            lora = new LoraLinear(baseLayer, inFeatures, outFeatures, Rank, Scaling, 0, generator: null);
        }

        // Outside the scope above: the moved A and B must not be disposed with the temporaries.
        lora.to(CUDA);
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            // Base outputs have the input's std (weights 1/sqrt(in)); x A^T has 0.58 of it (A uniform in ±1/sqrt(in)),
            // so the update's std is Scaling * sqrt(16) * 0.58 * 0.11 = 0.5 of the base's.
            lora.LoraB.copy_(randn([outFeatures, Rank], ScalarType.Float32, CUDA) * 0.11);
        }

        return lora;
    }

    private static LoraLinear[] Projections(Mlp mlp) => [(LoraLinear)mlp.GateProj, (LoraLinear)mlp.UpProj, (LoraLinear)mlp.DownProj];

    private static Tensor ReferenceChain(Mlp mlp, Tensor x)
    {
        using var scope = NewDisposeScope();
        var (gate, up, down) = ((LoraLinear)mlp.GateProj, (LoraLinear)mlp.UpProj, (LoraLinear)mlp.DownProj);
        var h = nn.functional.silu(gate.ForwardReference(x)) * up.ForwardReference(x);
        return down.ForwardReference(h).MoveToOuterDisposeScope();
    }

    /// <summary>y, grad_x, then the gradients of Ag, Bg, Au, Bu, Ad, Bd.</summary>
    private static Tensor[] Run(Mlp mlp, Tensor x, Tensor dy, bool fused)
    {
        mlp.zero_grad();
        var input = x.detach().clone().requires_grad_(true);
        var y = fused ? KernelComparison.With(true, () => mlp.ForwardFusedLora(input)) : ReferenceChain(mlp, input);
        y.backward([dy]);
        return [y.detach(), input.grad!, .. Projections(mlp).SelectMany(p => new[] { p.LoraA.grad!.clone(), p.LoraB.grad!.clone() })];
    }

    /// <summary>The closed form in float64 from the same inputs (see LoraMlpFunction's summary for the formulas).</summary>
    private static Tensor[] Truth(Mlp mlp, Tensor x, Tensor dy)
    {
        using var noGrad = no_grad();
        var f64 = ScalarType.Float64;
        var p = Projections(mlp).Select(l =>
        {
            using var w = l.BaseLayer is Nf4Linear n ? n.DequantizedWeight(ScalarType.Float32) : ((Linear)l.BaseLayer).weight!.to(ScalarType.Float32);
            var bias = l.BaseLayer is Nf4Linear nb ? nb.Bias : ((Linear)l.BaseLayer).bias;
            return (W: w.to(f64), Bias: bias?.to(f64), A: l.LoraA.to(f64), B: l.LoraB.to(f64), S: l.Scaling);
        }).ToArray();
        var (gate, up, down) = (p[0], p[1], p[2]);
        Tensor Project((Tensor W, Tensor? Bias, Tensor A, Tensor B, double S) q, Tensor input)
        {
            var result = input.matmul(q.W.t()) + q.S * input.matmul(q.A.t()).matmul(q.B.t());
            return q.Bias is null ? result : result + q.Bias;
        }

        var x2 = x.reshape(-1, x.shape[^1]).to(f64);
        var dy2 = dy.reshape(-1, dy.shape[^1]).to(f64);
        var g = Project(gate, x2);
        var u = Project(up, x2);
        var s = g.sigmoid();
        var h = g * s * u;
        var y = Project(down, h);
        var dh = dy2.matmul(down.W) + down.S * dy2.matmul(down.B).matmul(down.A);
        var dg = dh * u * s * (1 + g * (1 - s));
        var du = dh * g * s;
        var gradX = dg.matmul(gate.W) + gate.S * dg.matmul(gate.B).matmul(gate.A) + du.matmul(up.W) + up.S * du.matmul(up.B).matmul(up.A);
        return
        [
            y.view(x.shape), gradX.view(x.shape),
            gate.S * dg.matmul(gate.B).t().matmul(x2), gate.S * dg.t().matmul(x2.matmul(gate.A.t())),
            up.S * du.matmul(up.B).t().matmul(x2), up.S * du.t().matmul(x2.matmul(up.A.t())),
            down.S * dy2.matmul(down.B).t().matmul(h), down.S * dy2.t().matmul(h.matmul(down.A.t())),
        ];
    }
}
