namespace SharpTune.Runtime;

/// <summary>What <see cref="TorchRuntime.Initialize"/> loaded, for reports such as <c>sharptune doctor</c>.</summary>
public sealed record TorchRuntimeInfo(
    LibTorchLocation LibTorch,
    string LibTorchSharpPath,
    bool UsesCompatibleLibTorchSharp,
    SystemLibStdCxx? LibStdCxx,
    bool CudaAvailable,
    int CudaDeviceCount,
    string TorchSharpVersion);
