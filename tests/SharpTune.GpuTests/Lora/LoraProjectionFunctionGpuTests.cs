using SharpTune.GpuTests.Kernels;
using SharpTune.Kernels;
using SharpTune.Lora;
using SharpTune.Quantization;
using SharpTune.Runtime.Nvml;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Lora;

/// <summary>
/// <see cref="LoraProjectionFunction"/> (the fused path <see cref="LoraLinear.forward"/> takes on CUDA) against the
/// autograd reference <see cref="LoraLinear.ForwardReference"/> in bf16 at an 8B model's shapes: x [2, 512, 4096],
/// out 14336 (gate/up) and 1024 (k/v), r 16, on a 16-bit and an NF4 base. Both are measured against the float64 truth
/// of the same inputs.
/// </summary>
public sealed class LoraProjectionFunctionGpuTests(ITestOutputHelper output)
{
    private const long InFeatures = 4096;
    private const int Rank = 16;
    private const double Scaling = 2.0; // alpha 32 / r 16: a scaling that a gradient could lose

    // bf16 keeps 8 significant bits: each rounding is within 2^-9 (2e-3) relative. Both paths round every GEMM output
    // and the bf16 casts of A and B, in different orders, so each is a few 1e-3 from the float64 truth in norm.
    // The fused path must be as accurate as the reference (2x its error + 1e-3, KernelComparison) and within 1e-2 of
    // it. B is drawn large enough that the update is about half the base's output, so a lost scaling or a missing
    // term moves y and grad_x by tens of percent, and grad_A/grad_B (update only) by 100%.
    private const double MaxDifferenceFromReference = 1e-2;

    public static TheoryData<long, bool, bool> Cases => new()
    {
        { 14336, false, false },
        { 1024, false, true },
        { 14336, true, false },
        { 1024, true, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bf16_output_and_gradients_match_the_reference_and_the_float64_truth(long outFeatures, bool nf4, bool bias)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var lora = Projection(outFeatures, nf4, bias, dropout: 0);
        var x = randn([2, 512, InFeatures], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        var dy = randn([2, 512, outFeatures], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);

        var truth = Truth(lora, x, dy);
        var reference = Run(lora, x, dy, fused: false);
        var fused = Run(lora, x, dy, fused: true);

        string what = $"lora {(nf4 ? "nf4" : "bf16")} base 4096->{outFeatures}{(bias ? " +bias" : "")}";
        foreach (var (name, f, r, t) in new[]
                 {
                     ("y", fused.Y, reference.Y, truth.Y), ("grad_x", fused.GradX, reference.GradX, truth.GradX),
                     ("grad_A", fused.GradA, reference.GradA, truth.GradA), ("grad_B", fused.GradB, reference.GradB, truth.GradB),
                 })
        {
            KernelComparison.AssertAsAccurateAsReference($"{what} {name}", f, r, t, ScalarType.BFloat16, output);
            double difference = KernelComparison.RelativeError(f, r);
            output.WriteLine($"{what} {name}: fused vs reference {difference:E2}");
            Assert.True(difference <= MaxDifferenceFromReference, $"{what} {name}: fused differs from the reference by {difference:E2}");
        }

        Assert.Equal(ScalarType.Float32, fused.GradA.dtype);
        Assert.Equal(ScalarType.Float32, fused.GradB.dtype);
        Assert.Equal(x.shape, fused.GradX.shape);
    }

    [Fact]
    public void Forward_on_cuda_takes_the_fused_path_unless_dropout_is_active()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var lora = Projection(1024, nf4: false, bias: false, dropout: 0.1);
        var x = randn([2, 512, InFeatures], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        using var noGrad = no_grad();

        lora.eval();
        var viaForward = KernelComparison.With(true, () => lora.forward(x));
        Assert.True(Identical(viaForward, lora.ForwardFused(x)), "eval forward on CUDA is not the fused projection");
        // Not "differs from the reference": in bf16 on an H200 the two can round identically (seen: bit-identical y).
        Assert.True(KernelComparison.With(true, () => FusedKernels.AppliesTo(x)) && lora.CanFuse, "eval forward on CUDA does not choose the fused projection");
        var withKernelsOff = KernelComparison.With(false, () => lora.forward(x));
        Assert.True(Identical(withKernelsOff, lora.ForwardReference(x)), "SHARPTUNE_KERNELS=off must give the reference path");

        lora.train();
        RandomSeeds.SetAll(1);
        var first = KernelComparison.With(true, () => lora.forward(x));
        RandomSeeds.SetAll(1);
        var reference = lora.ForwardReference(x);
        RandomSeeds.SetAll(2);
        var second = KernelComparison.With(true, () => lora.forward(x));
        Assert.True(Identical(first, reference), "training forward with dropout is not the reference path");
        Assert.False(Identical(first, second), "two dropout seeds gave the same output");
    }

    [Fact]
    public void Twenty_forward_and_backward_calls_do_not_grow_gpu_memory()
    {
        _ = CudaFixture.Runtime;
        manual_seed(6);
        using var lora = Projection(14336, nf4: true, bias: false, dropout: 0);
        using var x = randn([2, 512, InFeatures], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        using var dy = randn([2, 512, 14336], ScalarType.Float32, CUDA).to(ScalarType.BFloat16);
        void Step()
        {
            using var scope = NewDisposeScope();
            var input = x.detach().requires_grad_(true);
            lora.ForwardFused(input).backward([dy]);
            lora.zero_grad();
        }

        int device = GpuMemoryMeter.NvmlIndexOfCudaDevice(0, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
        using var meter = new GpuMemoryMeter(device, TimeSpan.FromSeconds(10));
        Assert.Null(meter.Unavailable);
        for (int i = 0; i < 3; i++)
        {
            Step(); // the caching allocator's pools and cuBLAS workspaces settle
        }

        cuda.synchronize();
        long bytesBefore = meter.Sample()!.Value;
        long tensorsBefore = Tensor.TotalCount;
        for (int i = 0; i < 20; i++)
        {
            Step();
        }

        cuda.synchronize();
        long bytesAfter = meter.Sample()!.Value;
        long tensorsAfter = Tensor.TotalCount;
        BackwardResults.ReleaseCurrentThread();
        output.WriteLine($"{meter.Source}: {bytesBefore >> 20} MiB before, {bytesAfter >> 20} MiB after 20 calls; live tensors {tensorsBefore} -> {tensorsAfter}");
        // One leaked output is 28 MiB, one leaked dequantized weight 112 MiB: 20 calls of either show far above 64 MiB.
        Assert.True(bytesAfter - bytesBefore <= 64L << 20, $"GPU memory grew by {(bytesAfter - bytesBefore) >> 20} MiB");
        Assert.True(tensorsAfter <= tensorsBefore, $"{tensorsAfter - tensorsBefore} tensors more alive after 20 calls");
    }

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>A bf16 (or NF4) base 4096 -> out with LoRA r 16; B drawn so the update is about half the base output.</summary>
    private static LoraLinear Projection(long outFeatures, bool nf4, bool bias, double dropout)
    {
        var weight = randn([outFeatures, InFeatures], ScalarType.Float32, CUDA) * 0.02;
        var b = bias ? (randn([outFeatures], ScalarType.Float32, CUDA) * 0.5).to(ScalarType.BFloat16) : null;
        nn.Module<Tensor, Tensor> baseLayer;
        if (nf4)
        {
            baseLayer = Nf4Linear.FromWeight(weight, b);
        }
        else
        {
            var linear = nn.Linear(InFeatures, outFeatures, hasBias: bias, device: CUDA, dtype: ScalarType.BFloat16);
            using (no_grad())
            {
                linear.weight!.copy_(weight);
                linear.bias?.copy_(b!);
            }

            baseLayer = linear;
        }

        var lora = new LoraLinear(baseLayer, InFeatures, outFeatures, Rank, Scaling, dropout, generator: null);
        lora.to(CUDA);
        using (no_grad())
        {
            // Base outputs have std sqrt(4096) * 0.02 = 1.28; h = x A^T has sqrt(4096) * (1/64)/sqrt(3) = 0.58, so the
            // update's std is Scaling * sqrt(16) * 0.58 * 0.14 = 0.65, half the base's.
            lora.LoraB.copy_(randn([outFeatures, Rank], ScalarType.Float32, CUDA) * 0.14);
        }

        return lora;
    }

    private static (Tensor Y, Tensor GradX, Tensor GradA, Tensor GradB) Run(LoraLinear lora, Tensor x, Tensor dy, bool fused)
    {
        lora.zero_grad();
        var input = x.detach().clone().requires_grad_(true);
        var y = fused ? lora.ForwardFused(input) : lora.ForwardReference(input);
        y.backward([dy]);
        return (y.detach(), input.grad!, lora.LoraA.grad!.clone(), lora.LoraB.grad!.clone());
    }

    /// <summary>The closed form in float64 from the same inputs: y = x W^T + bias + s x A^T B^T and its gradients.</summary>
    private static (Tensor Y, Tensor GradX, Tensor GradA, Tensor GradB) Truth(LoraLinear lora, Tensor x, Tensor dy)
    {
        using var noGrad = no_grad();
        var f64 = ScalarType.Float64;
        Tensor w;
        Tensor? bias;
        if (lora.BaseLayer is Nf4Linear nf4)
        {
            using var w32 = nf4.DequantizedWeight(ScalarType.Float32);
            w = w32.to(f64);
            bias = nf4.Bias?.to(f64);
        }
        else
        {
            var linear = (Linear)lora.BaseLayer;
            w = linear.weight!.to(f64);
            bias = linear.bias?.to(f64);
        }

        var x2 = x.reshape(-1, InFeatures).to(f64);
        var dy2 = dy.reshape(-1, w.shape[0]).to(f64);
        var a = lora.LoraA.to(f64);
        var b = lora.LoraB.to(f64);
        var h = x2.matmul(a.t());
        var y = x2.matmul(w.t()) + Scaling * h.matmul(b.t());
        if (bias is not null)
        {
            y += bias;
        }

        var dh = Scaling * dy2.matmul(b);
        return (y.view(dy.shape), (dy2.matmul(w) + dh.matmul(a)).view(x.shape), dh.t().matmul(x2), Scaling * dy2.t().matmul(h));
    }
}
