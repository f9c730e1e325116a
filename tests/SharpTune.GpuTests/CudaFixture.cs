using SharpTune.Runtime;

namespace SharpTune.GpuTests;

/// <summary>Loads a CUDA libtorch once (SHARPTUNE_LIBTORCH, or PyTorch found through python3) and insists on a GPU.</summary>
public static class CudaFixture
{
    private static readonly Lazy<TorchRuntimeInfo> Loaded = new(() =>
    {
        var info = TorchRuntime.Initialize();
        if (!info.CudaAvailable)
        {
            throw new InvalidOperationException($"GPU tests need CUDA; libtorch from {info.LibTorch.Describe()} sees none");
        }

        return info;
    });

    public static TorchRuntimeInfo Runtime => Loaded.Value;
}
