namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Finds NVRTC (libnvrtc.so.*): the SHARPTUNE_NVRTC setting, then beside the libtorch in use (PyTorch wheels put it in
/// site-packages/nvidia/cu13/lib or nvidia/cuda_nvrtc/lib), then the CUDA toolkit, then the loader's search path.
/// </summary>
public static class CudaLibraryLocator
{
    public const string NvrtcVariable = "SHARPTUNE_NVRTC";

    public static string FindNvrtc(string? libTorchDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(NvrtcVariable) is { Length: > 0 } configured)
        {
            return File.Exists(configured)
                ? configured
                : throw new SharpTuneException($"{NvrtcVariable}={configured}: file does not exist");
        }

        var folders = new List<string>();
        if (libTorchDirectory is not null)
        {
            string sitePackages = Path.GetFullPath(Path.Combine(libTorchDirectory, "..", ".."));
            folders.Add(Path.Combine(sitePackages, "nvidia", "cu13", "lib"));
            folders.Add(Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib"));
            folders.Add(libTorchDirectory);
        }

        folders.AddRange(["/usr/local/cuda/lib64", "/usr/local/cuda-13.0/lib64", "/usr/lib/x86_64-linux-gnu"]);
        foreach (string folder in folders.Where(Directory.Exists))
        {
            string? match = Directory.EnumerateFiles(folder, "libnvrtc.so*")
                .Where(f => !Path.GetFileName(f).Contains("builtins", StringComparison.Ordinal))
                .OrderByDescending(f => f.Length)
                .FirstOrDefault();
            if (match is not null)
            {
                return match;
            }
        }

        // Last resort: let the dynamic loader search its own path.
        return "libnvrtc.so";
    }
}
