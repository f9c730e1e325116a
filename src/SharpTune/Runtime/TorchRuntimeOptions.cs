namespace SharpTune.Runtime;

/// <summary>How to find and load libtorch.</summary>
public sealed record TorchRuntimeOptions
{
    /// <summary>A libtorch lib directory to use instead of SHARPTUNE_LIBTORCH, the bundled natives or python3.</summary>
    public string? LibTorchDirectory { get; init; }

    /// <summary>Where a patched copy of libLibTorchSharp.so is kept; defaults to the user's cache folder.</summary>
    public string? NativeCacheDirectory { get; init; }
}
