using SharpTune.Kernels.AdamW;
using SharpTune.Kernels.MultiTensor;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Kernels;

/// <summary>
/// The multi-tensor AdamW and gradient-norm kernels: one launch per group bit-identical to one <see cref="FusedAdamW"/>
/// launch per tensor (with the clip factor applied on the device equal to gradients pre-multiplied in float32), the
/// gradients zeroed when asked, the norm equal to torch's norm of all gradients, and the address table uploaded again
/// when a gradient is replaced.
/// </summary>
public sealed class MultiTensorAdamWKernelTests(ITestOutputHelper output)
{
    private const int Steps = 4;

    private static readonly ScalarType F32 = ScalarType.Float32, Bf16 = ScalarType.BFloat16, F16 = ScalarType.Float16;

    /// <summary>20 tensors: LoRA-like matrices, sizes not a multiple of 256, tensors smaller than one block.</summary>
    private static readonly long[][] Shapes =
    [
        [16, 64], [64, 16], [1000], [100], [257], [255], [1], [513], [16, 300], [4096], [16, 4096], [4096, 16], [3000], [768],
        [12345], [7], [2048], [511], [14336, 16], [256],
    ];

    /// <summary>8-bit moments?, parameter dtype, gradient dtype, clip factor (0: none).</summary>
    public static TheoryData<bool, ScalarType, ScalarType, float> Cases => new()
    {
        { false, F32, F32, 0f },
        { false, F32, F32, 0.37f },
        { false, Bf16, Bf16, 0.37f },
        { false, F16, F32, 0f },
        { true, F32, F32, 0f },
        { true, F32, F32, 0.37f },
        { true, Bf16, Bf16, 0.37f },
        { true, Bf16, F32, 0f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_launch_is_bit_identical_to_one_launch_per_tensor(bool eightBit, ScalarType parameterDtype, ScalarType gradientDtype, float clip)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(51);
        var starts = Shapes.Select(shape => (randn(shape, F32, CUDA) * 0.05).to(parameterDtype)).ToArray();
        var perTensor = starts.Select(s => s.clone()).ToArray();
        var multi = starts.Select(s => s.clone()).ToArray();
        var reference = starts.Select(s => s.clone()).ToArray();
        using var perTensorState = new States(eightBit, starts);
        using var multiState = new States(eightBit, starts);
        using var referenceState = new States(eightBit, starts);
        var scale = clip > 0 ? tensor(clip, F32, CUDA) : null;
        using var multiTensor = new MultiTensorAdamW();
        for (int t = 1; t <= Steps; t++)
        {
            using var stepScope = NewDisposeScope();
            var step = AdamWStep.At(t, 1e-2, 0.9, 0.999, 1e-8, 0.01);
            var gradients = Shapes.Select(shape => Gradient(shape, t).to(gradientDtype)).ToArray();
            var scaled = gradients.Select(g => scale is null ? g : g.to(F32) * scale).ToArray();
            for (int i = 0; i < Shapes.Length; i++)
            {
                Assert.True(PerTensor(perTensorState[i], perTensor[i], scaled[i], step), $"tensor {i}: the per-tensor kernel does not apply");
                Reference(referenceState[i], reference[i], scaled[i], step);
            }

            var multiGradients = gradients.Select(g => g.clone()).ToArray();
            var updates = Enumerable.Range(0, Shapes.Length).Select(i => MultiTensorUpdate(multiState[i], multi[i], multiGradients[i])).ToArray();
            Assert.True(multiTensor.TryUpdate(updates, step, scale, zeroGradients: true), "the multi-tensor kernel does not apply");
            for (int i = 0; i < Shapes.Length; i++)
            {
                Assert.True(multiGradients[i].eq(0).all().item<bool>(), $"step {t}: gradient {i} was not zeroed");
            }
        }

        // New gradient tensors every step; the caching allocator may hand back the same addresses, which needs no upload.
        Assert.InRange(multiTensor.TableUploads, 1, Steps);
        string what = $"{(eightBit ? "8-bit" : "32-bit")} p {parameterDtype} g {gradientDtype} clip {clip}";
        for (int i = 0; i < Shapes.Length; i++)
        {
            AssertBitIdentical($"{what} tensor {i} parameter", multi[i], perTensor[i]);
            foreach (var (a, b, name) in Tensors(multiState[i]).Zip(Tensors(perTensorState[i]), (a, b) => (a.Tensor, b.Tensor, a.Name)))
            {
                AssertBitIdentical($"{what} tensor {i} {name}", a, b);
            }
        }

        if (parameterDtype == F32)
        {
            var all = cat(multi.Select(p => p.flatten()).ToArray());
            var expected = cat(reference.Select(p => p.flatten()).ToArray());
            var start = cat(starts.Select(p => p.flatten()).ToArray());
            double error = KernelComparison.RelativeError(all - start, expected - start);
            output.WriteLine($"{what}: update relative error against AdamWReference {error:E2}");
            Assert.True(error < (eightBit ? 1e-3 : 1e-5), $"{what}: updates differ from the reference by {error:E2}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_norm_is_torchs_norm_of_all_gradients_and_the_factor_clips_to_max_norm(bool bf16)
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(52);
        var gradients = Shapes.Select(shape => Gradient(shape, 3).to(bf16 ? Bf16 : F32)).ToArray();
        double expected = cat(gradients.Select(g => g.to(ScalarType.Float64).flatten()).ToArray()).norm().item<double>();

        var result = MultiTensorGradientNorm.TryCompute(gradients, expected / 4);
        Assert.NotNull(result);
        float[] values = result.cpu().data<float>().ToArray();
        output.WriteLine($"norm {values[0]} (torch {expected}), factor {values[1]}");
        Assert.True(Math.Abs(values[0] - expected) <= 1e-5 * expected, $"norm {values[0]} vs torch {expected}");
        Assert.Equal(expected / 4 / (expected + 1e-6), values[1], 1e-5 * 0.25);
        Assert.Equal(values, MultiTensorGradientNorm.TryCompute(gradients, expected / 4)!.cpu().data<float>().ToArray());
        Assert.Equal(1f, MultiTensorGradientNorm.TryCompute(gradients, expected * 10)!.cpu().data<float>()[1]);
        Assert.Equal(1f, MultiTensorGradientNorm.TryCompute(gradients, 0)!.cpu().data<float>()[1]);

        foreach (double bad in new[] { double.PositiveInfinity, double.NaN })
        {
            var broken = gradients.Select(g => g.clone()).ToArray();
            broken[12].view(-1).narrow(0, 17, 1).fill_(bad);
            var nonFinite = MultiTensorGradientNorm.TryCompute(broken, 1.0)!.cpu().data<float>().ToArray();
            Assert.False(float.IsFinite(nonFinite[0]), $"a {bad} gradient gave the norm {nonFinite[0]}");
            Assert.False(float.IsFinite(nonFinite[1]), $"a {bad} gradient gave the factor {nonFinite[1]}");
        }
    }

    [Fact]
    public void Clipping_leaves_the_factor_to_the_optimizer_on_the_gpu_and_clips_in_place_otherwise()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(53);
        var parameters = Shapes.Select(shape => zeros(shape, F32, CUDA).requires_grad_(true)).ToArray();
        foreach (var p in parameters)
        {
            p.grad = Gradient(p.shape, 2);
        }

        var before = parameters.Select(p => p.grad!.clone()).ToArray();
        double expected = cat(before.Select(g => g.to(ScalarType.Float64).flatten()).ToArray()).norm().item<double>();
        var norm = GradientClipping.ClipByGlobalNormOnDevice(parameters, expected / 2, out var pendingScale);
        Assert.NotNull(pendingScale);
        Assert.Equal(expected, norm.item<float>(), expected * 1e-5);
        Assert.Equal(0.5, pendingScale.item<float>(), 1e-5);
        Assert.All(Enumerable.Range(0, parameters.Length), i => Assert.True(parameters[i].grad!.eq(before[i]).all().item<bool>(), $"gradient {i} changed"));

        var inPlace = GradientClipping.ClipByGlobalNormOnDevice(parameters, expected / 2);
        Assert.Equal(expected, inPlace.item<float>(), expected * 1e-5);
        var clipped = cat(parameters.Select(p => p.grad!.to(ScalarType.Float64).flatten()).ToArray()).norm().item<double>();
        Assert.Equal(expected / 2, clipped, expected * 1e-5);
    }

    [Fact]
    public void The_table_is_uploaded_again_when_a_gradient_is_replaced_and_the_update_lands_in_the_right_tensors()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(54);
        long[][] shapes = [[16, 300], [1000], [300, 16]];
        var perTensor = shapes.Select(shape => randn(shape, F32, CUDA) * 0.05).ToArray();
        var multi = perTensor.Select(p => p.clone()).ToArray();
        using var perTensorState = new States(true, perTensor);
        using var multiState = new States(true, perTensor);
        var gradients = shapes.Select(shape => zeros(shape, F32, CUDA)).ToArray();
        using var multiTensor = new MultiTensorAdamW();
        int[] expectedUploads = [1, 1, 2, 2];
        for (int t = 1; t <= expectedUploads.Length; t++)
        {
            var step = AdamWStep.At(t, 1e-2, 0.9, 0.999, 1e-8, 0.01);
            if (t == 3)
            {
                gradients[1] = zeros(shapes[1], F32, CUDA);   // new storage, as autograd's first backward makes
            }

            var fresh = shapes.Select(shape => Gradient(shape, t)).ToArray();
            for (int i = 0; i < shapes.Length; i++)
            {
                gradients[i].copy_(fresh[i]);
                Assert.True(PerTensor(perTensorState[i], perTensor[i], fresh[i], step));
            }

            Assert.True(multiTensor.TryUpdate(
                Enumerable.Range(0, shapes.Length).Select(i => MultiTensorUpdate(multiState[i], multi[i], gradients[i])).ToArray(), step, null, zeroGradients: false));
            Assert.Equal(expectedUploads[t - 1], multiTensor.TableUploads);
            for (int i = 0; i < shapes.Length; i++)
            {
                AssertBitIdentical($"step {t} tensor {i}", multi[i], perTensor[i]);
                Assert.True(gradients[i].eq(fresh[i]).all().item<bool>(), $"step {t}: gradient {i} changed without zeroGradients");
            }
        }
    }

    [Fact]
    public void The_optimizer_takes_one_launch_per_group_keeps_its_table_and_clears_gradients()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(55);
        var starts = Shapes.Select(shape => randn(shape, F32, CUDA) * 0.05).ToArray();
        var multi = starts.Select(s => s.clone().requires_grad_(true)).ToArray();
        var reference = starts.Select(s => s.clone().requires_grad_(true)).ToArray();
        using var multiOptimizer = new AdamWOptimizer(multi.Select((p, i) => ($"p{i}", p)), OptimizerKind.AdamW8Bit);
        using var referenceOptimizer = new AdamWOptimizer(reference.Select((p, i) => ($"p{i}", p)), OptimizerKind.AdamW8Bit);
        var scale = tensor(0.5f, F32, CUDA);
        for (int t = 1; t <= Steps; t++)
        {
            using var stepScope = NewDisposeScope();
            for (int i = 0; i < Shapes.Length; i++)
            {
                var g = Gradient(Shapes[i], t);
                if (t == 1)
                {
                    multi[i].grad = g.clone();
                }
                else
                {
                    multi[i].grad!.add_(g);   // accumulated in place, as backward does after the first step
                }

                reference[i].grad = g * scale;
            }

            multiOptimizer.Step(1e-2, scale, zeroGradients: true);
            KernelComparison.With(false, () => { referenceOptimizer.Step(1e-2); return 0; });
            Assert.All(multi, p => Assert.True(p.grad!.eq(0).all().item<bool>(), "a gradient was not cleared"));
        }

        Assert.Equal(Steps, multiOptimizer.MultiTensorSteps);
        Assert.Equal(2, multiOptimizer.MultiTensorTableUploads);   // 8-bit and float32 groups, once each
        var all = cat(multi.Select(p => p.detach().flatten()).ToArray());
        var expected = cat(reference.Select(p => p.detach().flatten()).ToArray());
        var start = cat(starts.Select(p => p.flatten()).ToArray());
        double error = KernelComparison.RelativeError(all - start, expected - start);
        output.WriteLine($"optimizer: update relative error against the reference optimizer {error:E2}");
        Assert.True(error < 1e-3, $"updates differ by {error:E2}");
    }

    /// <summary>
    /// The trainer's deferred tail (clip with a pending factor, then one step that applies it and clears the gradients)
    /// with kernels on against the old tail with kernels off (clip in place, reference AdamW, ZeroGrad): the same norms
    /// and the same parameters to float32 precision, with 32-bit moments.
    /// </summary>
    [Fact]
    public void The_trainers_tail_with_kernels_matches_the_tail_without()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(56);
        var starts = Shapes.Select(shape => randn(shape, F32, CUDA) * 0.05).ToArray();
        var fused = starts.Select(s => s.clone().requires_grad_(true)).ToArray();
        var reference = starts.Select(s => s.clone().requires_grad_(true)).ToArray();
        using var fusedOptimizer = new AdamWOptimizer(fused.Select((p, i) => ($"p{i}", p)), OptimizerKind.AdamW);
        using var referenceOptimizer = new AdamWOptimizer(reference.Select((p, i) => ($"p{i}", p)), OptimizerKind.AdamW);
        for (int t = 1; t <= Steps; t++)
        {
            using var stepScope = NewDisposeScope();
            var gradients = Shapes.Select(shape => Gradient(shape, t)).ToArray();
            double maxNorm = 0.5 * cat(gradients.Select(g => g.flatten()).ToArray()).norm().item<float>();
            for (int i = 0; i < Shapes.Length; i++)
            {
                fused[i].grad = gradients[i].clone();
                reference[i].grad = gradients[i].clone();
            }

            var fusedNorm = KernelComparison.With(true, () =>
            {
                var norm = GradientClipping.ClipByGlobalNormOnDevice(fused, maxNorm, out var pendingScale);
                Assert.NotNull(pendingScale);
                fusedOptimizer.Step(1e-2, pendingScale, zeroGradients: true);
                return norm.item<float>();
            });
            var referenceNorm = KernelComparison.With(false, () =>
            {
                var norm = GradientClipping.ClipByGlobalNormOnDevice(reference, maxNorm);
                referenceOptimizer.Step(1e-2);
                referenceOptimizer.ZeroGrad();
                return norm.item<float>();
            });
            Assert.Equal(referenceNorm, fusedNorm, referenceNorm * 1e-5);
            Assert.All(fused, p => Assert.True(p.grad!.eq(0).all().item<bool>(), "a gradient was not cleared"));
        }

        Assert.Equal(Steps, fusedOptimizer.MultiTensorSteps);
        Assert.Equal(0, referenceOptimizer.MultiTensorSteps);
        var start = cat(starts.Select(p => p.flatten()).ToArray());
        double error = KernelComparison.RelativeError(cat(fused.Select(p => p.detach().flatten()).ToArray()) - start,
            cat(reference.Select(p => p.detach().flatten()).ToArray()) - start);
        output.WriteLine($"trainer tail: update relative error {error:E2}");
        Assert.True(error < 1e-5, $"updates differ by {error:E2}");
    }

    private static Tensor Gradient(long[] shape, int step) => AdamWKernelTests.Gradient(shape, step);

    /// <summary>Bit for bit: equal values, the same sign on zeros, and no NaN (codes compare as bytes).</summary>
    private static void AssertBitIdentical(string what, Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var same = actual.eq(expected);
        if (actual.is_floating_point())
        {
            same = same.logical_and(actual.signbit().eq(expected.signbit()));
        }

        long differing = same.logical_not().sum().item<long>();
        Assert.True(differing == 0, $"{what}: {differing} of {actual.numel()} elements differ");
    }

    /// <summary>The moments of each of a list of tensors (<see cref="AdamWKernelTests.Moments"/>).</summary>
    private sealed class States(bool eightBit, Tensor[] parameters) : IDisposable
    {
        private readonly AdamWKernelTests.Moments[] _moments = parameters.Select(p => new AdamWKernelTests.Moments(eightBit, p)).ToArray();

        public AdamWKernelTests.Moments this[int i] => _moments[i];

        public void Dispose()
        {
            foreach (var moments in _moments)
            {
                moments.Dispose();
            }
        }
    }

    private static IEnumerable<(Tensor Tensor, string Name)> Tensors(AdamWKernelTests.Moments moments) =>
        moments is { First: { } m, Second: { } v }
            ? [(m.Codes, "m codes"), (m.Absmax, "m absmax"), (v.Codes, "v codes"), (v.Absmax, "v absmax")]
            : [(moments.M!, "m"), (moments.V!, "v")];

    private static MultiTensorAdamWUpdate MultiTensorUpdate(AdamWKernelTests.Moments moments, Tensor parameter, Tensor gradient) =>
        moments is { First: { } m, Second: { } v }
            ? MultiTensorAdamWUpdate.Quantized(parameter, gradient, m, v)
            : MultiTensorAdamWUpdate.Full(parameter, gradient, moments.M!, moments.V!);

    /// <summary>One per-tensor kernel launch; false where it does not apply.</summary>
    private static bool PerTensor(AdamWKernelTests.Moments moments, Tensor parameter, Tensor gradient, AdamWStep step) =>
        KernelComparison.With(true, () => moments.Update(parameter, gradient, step));

    /// <summary>One <see cref="AdamWReference"/> update (kernels off).</summary>
    private static void Reference(AdamWKernelTests.Moments moments, Tensor parameter, Tensor gradient, AdamWStep step) =>
        Assert.False(KernelComparison.With(false, () => moments.Update(parameter, gradient, step)), "the reference ran the kernel");
}
