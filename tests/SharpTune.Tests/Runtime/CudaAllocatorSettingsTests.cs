using SharpTune.Runtime;

namespace SharpTune.Tests.Runtime;

public sealed class CudaAllocatorSettingsTests
{
    [Fact]
    public void Loading_libtorch_leaves_expandable_segments_in_the_native_environment_unless_the_user_chose()
    {
        string? before = Environment.GetEnvironmentVariable(CudaAllocatorSettings.Variable);
        _ = TorchFixture.Runtime;
        Assert.Equal(before ?? CudaAllocatorSettings.Default, CudaAllocatorSettings.Read());
        Assert.Equal(CudaAllocatorSettings.Read(), CudaAllocatorSettings.ApplyDefault());
    }

    [Fact]
    public void A_value_the_user_set_is_kept()
    {
        var run = ProcessRunner.RunWithExitCode(
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet",
            new Dictionary<string, string?> { [CudaAllocatorSettings.Variable] = "max_split_size_mb:64" },
            Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll"), "doctor");
        Assert.NotNull(run);
        Assert.Contains("PYTORCH_CUDA_ALLOC_CONF max_split_size_mb:64", run.Value.StdOut);
    }
}
