namespace SharpTune.Runtime;

/// <summary>A directory holding libtorch's shared libraries (libc10.so, libtorch_cpu.so, ...), and how it was found.</summary>
public sealed record LibTorchLocation(string Directory, LibTorchOrigin Origin, string? Version)
{
    /// <summary>True when the directory holds libtorch_cuda.so, i.e. a CUDA build of libtorch.</summary>
    public bool HasCuda => File.Exists(Path.Combine(Directory, "libtorch_cuda.so"));

    public string Describe() => $"{Directory} ({Origin switch
    {
        LibTorchOrigin.Option => "--libtorch",
        LibTorchOrigin.Environment => "SHARPTUNE_LIBTORCH",
        LibTorchOrigin.Bundled => "bundled libtorch-cpu",
        _ => "PyTorch found through python3",
    }}{(Version is null ? "" : ", torch " + Version)}{(HasCuda ? ", CUDA build" : ", CPU build")})";
}
