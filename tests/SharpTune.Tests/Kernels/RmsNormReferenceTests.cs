using SharpTune.Kernels;
using SharpTune.Kernels.RmsNorm;
using static TorchSharp.torch;

namespace SharpTune.Tests.Kernels;

public sealed class RmsNormReferenceTests
{
    [Fact]
    public void The_reference_matches_the_definition_computed_by_hand()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3, 4, -1, 0, 1, 2 }, [2, 4]);
        var w = tensor(new float[] { 1, 0.5f, 2, 1 });
        var y = RmsNormReference.Forward(x, w, 1e-6).data<float>().ToArray();
        double rms0 = Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6), rms1 = Math.Sqrt((1 + 0 + 1 + 4) / 4.0 + 1e-6);
        double[] expected = [1 / rms0, 0.5 * 2 / rms0, 2 * 3 / rms0, 4 / rms0, -1 / rms1, 0, 2 / rms1, 2 / rms1];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], y[i], 5);
        }
    }

    [Fact]
    public void On_cpu_the_reference_path_runs_in_the_input_dtype()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = randn([3, 16]).to(ScalarType.BFloat16);
        var w = randn([16]).to(ScalarType.BFloat16);
        Assert.False(FusedKernels.AppliesTo(x));
        var y = FusedRmsNorm.Apply(x, w, 1e-5);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        var expected = RmsNormReference.Forward(x, w, 1e-5);
        Assert.True(y.eq(expected).all().item<bool>());
    }
}
