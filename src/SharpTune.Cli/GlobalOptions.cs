using System.CommandLine;
using SharpTune.Runtime;

namespace SharpTune.Cli;

/// <summary>Options every command accepts.</summary>
public static class GlobalOptions
{
    public static readonly Option<string?> LibTorch = new("--libtorch")
    {
        Description = "A libtorch lib directory to load (CPU or CUDA build), e.g. <site-packages>/torch/lib. " +
            $"Default: ${LibTorchLocator.DirectoryVariable}, then the bundled libtorch-cpu, then PyTorch found through python3.",
        Recursive = true,
    };

    public static TorchRuntimeOptions RuntimeOptions(ParseResult parsed) => new() { LibTorchDirectory = parsed.GetValue(LibTorch) };
}
