namespace SharpTune.Distributed.Nccl;

/// <summary>
/// Where to load NCCL from, in order: the SHARPTUNE_NCCL setting (the library file or its directory); then beside
/// the loaded libtorch in PyTorch's wheel layout (torch/lib -> site-packages/nvidia/nccl/lib/libnccl.so.2); then
/// the dynamic loader's search path (LD_LIBRARY_PATH, ld.so.cache).
/// </summary>
public static class NcclLocator
{
    public const string Variable = "SHARPTUNE_NCCL";
    public const string FileName = "libnccl.so.2";

    /// <summary>The candidates to try, with where each came from; a bare file name means "ask the loader".</summary>
    public static IReadOnlyList<(string Path, string Origin)> Candidates(string? libTorchDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var candidates = new List<(string, string)>();
        string? setting = environment(Variable);
        if (!string.IsNullOrWhiteSpace(setting))
        {
            string full = Path.GetFullPath(setting);
            candidates.Add((Directory.Exists(full) ? Path.Combine(full, FileName) : full, Variable));
            return candidates; // an explicit setting is the only answer: a wrong one must not be papered over
        }

        if (!string.IsNullOrWhiteSpace(libTorchDirectory))
        {
            string wheel = Path.GetFullPath(Path.Combine(libTorchDirectory, "..", "..", "nvidia", "nccl", "lib", FileName));
            candidates.Add((wheel, "beside libtorch (PyTorch wheel layout)"));
        }

        candidates.Add((FileName, "the dynamic loader's search path"));
        return candidates;
    }
}
