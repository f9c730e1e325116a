using SharpTune.Kernels.AdamW;
using SharpTune.Kernels.MultiTensor;
using SharpTune.Quantization;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

/// <summary>
/// The host side of the multi-tensor clipping and AdamW path: which launch each tensor joins, and that off the GPU
/// (where it never applies) the deferred clip factor and in-step gradient clearing give exactly the old results.
/// </summary>
public sealed class MultiTensorStepTests
{
    [Fact]
    public void Updates_group_by_parameter_dtype_gradient_dtype_and_moment_kind()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var p32 = zeros([300]);
        var pbf16 = zeros([300], ScalarType.BFloat16);
        var m = zeros([300]);
        using var codes = BlockwiseQuantized.Quantize(zeros([300]), DynamicQuantizationMap.Signed);
        using var codes2 = BlockwiseQuantized.Quantize(zeros([300]), DynamicQuantizationMap.Unsigned);

        var full = MultiTensorAdamWUpdate.Full(p32, zeros([300]), m, m.clone());
        var fullAgain = MultiTensorAdamWUpdate.Full(p32.clone(), zeros([300]), m.clone(), m.clone());
        var bf16Gradient = MultiTensorAdamWUpdate.Full(p32, zeros([300], ScalarType.BFloat16), m, m.clone());
        var eightBit = MultiTensorAdamWUpdate.Quantized(pbf16, zeros([300], ScalarType.BFloat16), codes, codes2);

        Assert.Equal(new MultiTensorAdamWGroup("f32", "f32", false), full.Group);
        Assert.Equal(full.Group, fullAgain.Group);
        Assert.Equal(new MultiTensorAdamWGroup("f32", "bf16", false), bf16Gradient.Group);
        Assert.Equal(new MultiTensorAdamWGroup("bf16", "bf16", true), eightBit.Group);
        Assert.Equal("adamw32_multi_f32_bf16", bf16Gradient.Group.KernelName);
        Assert.Equal("adamw8_multi_bf16_bf16", eightBit.Group.KernelName);
        Assert.True(eightBit.EightBit);
        Assert.False(full.EightBit);
    }

    [Fact]
    public void On_the_cpu_the_multi_tensor_kernels_do_not_apply_and_touch_nothing()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var parameter = ones([300]);
        var gradient = ones([300]);
        var update = MultiTensorAdamWUpdate.Full(parameter, gradient, zeros([300]), zeros([300]));
        using var multi = new MultiTensorAdamW();

        Assert.False(update.Applies);
        Assert.False(MultiTensorAdamW.Applies([update], null));
        Assert.False(MultiTensorAdamW.Applies([], null));
        Assert.False(multi.TryUpdate([update], AdamWStep.At(1, 0.1, 0.9, 0.999, 1e-8, 0.01), tensor(0.5f), zeroGradients: true));
        Assert.Equal(0, multi.TableUploads);
        Assert.True(parameter.eq(1).all().item<bool>());
        Assert.True(gradient.eq(1).all().item<bool>());
        Assert.Null(MultiTensorGradientNorm.TryCompute([gradient], 1.0));
    }

    [Fact]
    public void On_the_cpu_clipping_with_a_pending_scale_clips_in_place_as_before()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var (a, b) = (Parameters(5), Parameters(5));

        var expected = GradientClipping.ClipByGlobalNormOnDevice(a, 0.5);
        var norm = GradientClipping.ClipByGlobalNormOnDevice(b, 0.5, out var pendingScale);

        Assert.Null(pendingScale);
        Assert.Equal(expected.item<float>(), norm.item<float>());
        Assert.True(norm.item<float>() > 0.5, "the gradients must be clipped for the test to mean something");
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Same(a[i].grad!, b[i].grad!), $"gradient {i} differs");
        }
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.AdamW8Bit)]
    public void A_step_with_a_gradient_scale_and_clearing_equals_prescaled_gradients_then_zero_grad(OptimizerKind kind)
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var (a, b) = (Parameters(11), Parameters(11));
        using var expected = new AdamWOptimizer(a.Select((p, i) => ($"p{i}", p)), kind);
        using var actual = new AdamWOptimizer(b.Select((p, i) => ($"p{i}", p)), kind);
        var scale = tensor(0.37f);
        for (int step = 0; step < 3; step++)
        {
            foreach (var p in a)
            {
                using var gradScope = NewDisposeScope();
                p.grad!.mul_(scale);
            }

            expected.Step(1e-2);
            expected.ZeroGrad();
            actual.Step(1e-2, scale, zeroGradients: true);
            for (int i = 0; i < a.Length; i++)
            {
                Assert.True(Same(a[i].detach(), b[i].detach()), $"step {step}: parameter {i} differs");
                Assert.True(b[i].grad!.eq(0).all().item<bool>(), $"step {step}: gradient {i} not cleared");
                using var next = randn(a[i].shape, generator: new TorchSharp.torch.Generator((ulong)(step * 100 + i)));
                a[i].grad!.add_(next);
                b[i].grad!.add_(next);
            }
        }

        Assert.Equal(0, actual.MultiTensorSteps);
        Assert.Equal(0, actual.MultiTensorTableUploads);
        var left = expected.ExportState();
        var right = actual.ExportState();
        Assert.All(left, entry => Assert.True(Same(entry.Value, right[entry.Key]), $"state {entry.Key} differs"));
    }

    private static bool Same(Tensor x, Tensor y) => x.shape.SequenceEqual(y.shape) && x.dtype == y.dtype && x.eq(y).all().item<bool>();

    /// <summary>Parameters of mixed sizes (one below 256 elements, one not a multiple of 256, one 8-bit sized) with seeded gradients.</summary>
    private static Tensor[] Parameters(int seed)
    {
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        long[][] shapes = [[100], [3, 257], [64, 80], [16, 300]];
        return shapes.Select(shape =>
        {
            var p = randn(shape, generator: generator).requires_grad_(true);
            p.grad = randn(shape, generator: generator);
            return p;
        }).ToArray();
    }
}
