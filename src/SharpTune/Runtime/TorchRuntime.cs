using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace SharpTune.Runtime;

/// <summary>
/// Loads libtorch and TorchSharp's native shim before TorchSharp initialises itself. Call
/// <see cref="Initialize"/> once, early; every later call returns the same <see cref="TorchRuntimeInfo"/>.
/// Libraries are loaded by full path, so TorchSharp's own loads by name find them already in the process
/// (the dynamic loader matches them by soname).
/// </summary>
public static class TorchRuntime
{
    private const string ShimFileName = "libLibTorchSharp.so";

    // Order matters: each library's DT_NEEDED entries must already be in the process.
    private static readonly string[] CpuLibraries = ["libc10.so", "libtorch_cpu.so"];
    private static readonly string[] CudaLibraries = ["libc10_cuda.so", "libtorch_cuda.so"];

    private static readonly Lock Gate = new();
    private static TorchRuntimeInfo? _info;

    /// <summary>The loaded runtime, or null before <see cref="Initialize"/>.</summary>
    public static TorchRuntimeInfo? Current => _info;

    public static TorchRuntimeInfo Initialize(TorchRuntimeOptions? options = null)
    {
        lock (Gate)
        {
            if (_info is not null)
            {
                if (options?.LibTorchDirectory is { } asked && Path.GetFullPath(asked) != _info.LibTorch.Directory
                    && Path.GetFullPath(Path.Combine(asked, "lib")) != _info.LibTorch.Directory)
                {
                    throw new SharpTuneException($"libtorch is already loaded from {_info.LibTorch.Directory}; it cannot be switched to {asked} in the same process");
                }

                return _info;
            }

            options ??= new TorchRuntimeOptions();
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            {
                throw new SharpTuneException($"SharpTune runs on linux-x64; this is {RuntimeInformation.RuntimeIdentifier}");
            }

            var location = LibTorchLocator.Locate(options.LibTorchDirectory);
            CudaAllocatorSettings.ApplyDefault();
            LoadLibTorch(location);
            var libStdCxx = SystemLibStdCxx.TryFind();
            var (shimPath, compatible) = LoadShim(options, libStdCxx, location);

            torch.InitializeDeviceType(DeviceType.CPU);
            bool cuda = location.HasCuda && torch.TryInitializeDeviceType(DeviceType.CUDA) && torch.cuda.is_available();
            _info = new TorchRuntimeInfo(
                location,
                shimPath,
                compatible,
                libStdCxx,
                cuda,
                cuda ? torch.cuda.device_count() : 0,
                typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "unknown");
            return _info;
        }
    }

    /// <summary>Loads libtorch's libraries from <paramref name="location"/>; a clear error when one will not load.</summary>
    public static void LoadLibTorch(LibTorchLocation location)
    {
        var names = location.HasCuda ? CpuLibraries.Concat(CudaLibraries).Append("libtorch.so") : CpuLibraries.Append("libtorch.so");
        foreach (string name in names)
        {
            string path = Path.Combine(location.Directory, name);
            if (!File.Exists(path))
            {
                throw new SharpTuneException($"libtorch at {location.Describe()} is incomplete: {name} is missing");
            }

            try
            {
                NativeLibrary.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new SharpTuneException($"libtorch at {location.Directory} cannot be loaded: {LoaderMessage(e.Message)}", e);
            }
        }
    }

    /// <summary>Finds libLibTorchSharp.so shipped with the application (TorchSharp's package puts it there).</summary>
    public static string FindShim(string applicationDirectory)
    {
        foreach (string candidate in new[] { applicationDirectory, Path.Combine(applicationDirectory, "runtimes", "linux-x64", "native") })
        {
            string path = Path.Combine(candidate, ShimFileName);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new SharpTuneException($"{ShimFileName} is missing from {applicationDirectory}; reinstall SharpTune");
    }

    /// <summary>
    /// Writes (once) the libstdc++-compatible copy of the shim into the cache and returns its path. The file name
    /// keeps the soname, the folder is keyed by the original's hash, and the write is atomic.
    /// </summary>
    public static string EnsureCompatibleShim(string originalPath, string? cacheDirectory)
    {
        byte[] original = File.ReadAllBytes(originalPath);
        string key = Convert.ToHexStringLower(SHA256.HashData(original))[..16];
        string folder = Path.Combine(cacheDirectory ?? DefaultNativeCache(), "libtorchsharp-" + key);
        string target = Path.Combine(folder, ShimFileName);
        if (File.Exists(target))
        {
            return target;
        }

        byte[] patched = LibStdCxxMarkerPatch.CreateCompatibleImage(original, originalPath);
        Directory.CreateDirectory(folder);
        string temp = target + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, patched);
        File.Move(temp, target, overwrite: true);
        return target;
    }

    private static (string Path, bool Compatible) LoadShim(TorchRuntimeOptions options, SystemLibStdCxx? libStdCxx, LibTorchLocation location)
    {
        string original = FindShim(AppContext.BaseDirectory);
        bool needsPatch = libStdCxx is not null && !libStdCxx.Provides(LibStdCxxMarkerPatch.MarkerVersion)
            && LibStdCxxMarkerPatch.RequiresMarkerVersion(Elf.ElfImage.Load(original));
        string path = needsPatch ? EnsureCompatibleShim(original, options.NativeCacheDirectory) : original;
        try
        {
            NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            string message = LoaderMessage(e.Message);
            string hint = message.Contains("undefined symbol", StringComparison.Ordinal)
                ? $"the libtorch at {location.Directory} is incompatible with TorchSharp (built for libtorch 2.10)"
                : "TorchSharp's native shim cannot be loaded";
            throw new SharpTuneException($"{hint}: {message}", e);
        }

        return (path, needsPatch);
    }

    private static string DefaultNativeCache()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(root, "sharptune", "native");
    }

    /// <summary>The loader's own words (dlerror), which .NET puts on the last line of its message.</summary>
    private static string LoaderMessage(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? text;
}
