using SharpTune.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Runtime;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void Tensor_ops_run_on_cpu_inside_the_test_process()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        var b = tensor(new float[] { 5, 6, 7, 8 }, [2, 2]);
        var product = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, product.data<float>().ToArray());
    }

    [Fact]
    public void Autograd_computes_gradients_on_cpu()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = tensor(new double[] { -1.5, 0.5, 2.0 }).requires_grad_(true);
        var y = (x.pow(3) + 2 * x).sum();
        y.backward();
        // d/dx (x^3 + 2x) = 3x^2 + 2
        Assert.Equal(new[] { 8.75, 2.75, 14.0 }, x.grad!.data<double>().ToArray());
    }

    [Fact]
    public void The_shim_in_use_matches_what_this_systems_libstdcxx_provides()
    {
        var info = TorchFixture.Runtime;
        Assert.NotNull(info.LibStdCxx);
        bool systemHasMarker = info.LibStdCxx!.Provides(LibStdCxxMarkerPatch.MarkerVersion);
        // On Debian 12 (GLIBCXX_3.4.30) the compatible copy must be in use; on newer systems the original.
        Assert.Equal(!systemHasMarker, info.UsesCompatibleLibTorchSharp);
        Assert.Contains("libLibTorchSharp.so", File.ReadAllText("/proc/self/maps"));
        Assert.Contains(info.LibTorchSharpPath, File.ReadAllText("/proc/self/maps"));
    }

    [Fact]
    public void Default_build_uses_the_bundled_libtorch_cpu()
    {
        var info = TorchFixture.Runtime;
        Assert.Equal(LibTorchOrigin.Bundled, info.LibTorch.Origin);
        Assert.Equal("2.10.0", info.LibTorch.Version);
        Assert.False(info.LibTorch.HasCuda);
        Assert.False(info.CudaAvailable);
    }

    [Fact]
    public void Initialize_is_idempotent_and_refuses_to_switch_libtorch()
    {
        var first = TorchFixture.Runtime;
        Assert.Same(first, TorchRuntime.Initialize());
        var error = Assert.Throws<SharpTuneException>(() => TorchRuntime.Initialize(new TorchRuntimeOptions { LibTorchDirectory = "/tmp" }));
        Assert.Contains("already loaded", error.Message);
    }
}
