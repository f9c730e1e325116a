using System.Security.Cryptography;
using System.Text;

namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Compiles CUDA C++ source to a CUBIN for one GPU architecture with NVRTC, once: the result is cached on disk under
/// a key made of the source, the options, the architecture and NVRTC's version.
/// </summary>
public sealed class NvrtcCompiler
{
    private readonly string _cacheDirectory;

    public NvrtcCompiler(string nvrtcPath, string? cacheDirectory = null)
    {
        NvrtcNative.Bind(nvrtcPath);
        NvrtcPath = nvrtcPath;
        _cacheDirectory = cacheDirectory ?? DefaultCacheDirectory();
        Version = ReadVersion();
    }

    public string NvrtcPath { get; }

    /// <summary>NVRTC's version, e.g. "13.0".</summary>
    public string Version { get; }

    /// <summary>Returns the CUBIN for <paramref name="source"/> built for sm_<paramref name="arch"/> (e.g. 90).</summary>
    public byte[] Compile(string name, string source, int arch, out bool fromCache)
    {
        string[] options = [$"--gpu-architecture=sm_{arch}", "--std=c++17", "-default-device"];
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join('\n', [Version, arch.ToString(System.Globalization.CultureInfo.InvariantCulture), .. options, source]))))[..24];
        string cached = Path.Combine(_cacheDirectory, $"{name}-sm{arch}-{key}.cubin");
        if (File.Exists(cached))
        {
            fromCache = true;
            return File.ReadAllBytes(cached);
        }

        byte[] cubin = CompileUncached(name, source, options);
        Directory.CreateDirectory(_cacheDirectory);
        string temp = cached + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, cubin);
        File.Move(temp, cached, overwrite: true);
        fromCache = false;
        return cubin;
    }

    private static unsafe byte[] CompileUncached(string name, string source, string[] options)
    {
        byte[] sourceBytes = Encoding.UTF8.GetBytes(source + "\0");
        byte[] nameBytes = Encoding.UTF8.GetBytes(name + ".cu\0");
        nint program;
        fixed (byte* src = sourceBytes)
        fixed (byte* fileName = nameBytes)
        {
            Check(NvrtcNative.CreateProgram(&program, src, fileName, 0, null, null), name);
        }

        try
        {
            var optionBytes = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = optionBytes.Select(b => System.Runtime.InteropServices.GCHandle.Alloc(b, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
            int result;
            try
            {
                byte** pointers = stackalloc byte*[optionBytes.Length];
                for (int i = 0; i < handles.Length; i++)
                {
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }

                result = NvrtcNative.CompileProgram(program, optionBytes.Length, pointers);
            }
            finally
            {
                foreach (var handle in handles)
                {
                    handle.Free();
                }
            }

            if (result != NvrtcNative.Success)
            {
                throw new InvalidOperationException($"NVRTC could not compile {name}: {NvrtcNative.ErrorText(result)}\n{Log(program)}");
            }

            nuint size;
            Check(NvrtcNative.GetCubinSize(program, &size), name);
            var cubin = new byte[size];
            fixed (byte* target = cubin)
            {
                Check(NvrtcNative.GetCubin(program, target), name);
            }

            return cubin;
        }
        finally
        {
            NvrtcNative.DestroyProgram(&program);
        }
    }

    private static unsafe string Log(nint program)
    {
        nuint size;
        if (NvrtcNative.GetProgramLogSize(program, &size) != NvrtcNative.Success || size == 0)
        {
            return "";
        }

        var log = new byte[size];
        fixed (byte* target = log)
        {
            NvrtcNative.GetProgramLog(program, target);
        }

        return Encoding.UTF8.GetString(log).TrimEnd('\0');
    }

    private static unsafe string ReadVersion()
    {
        int major, minor;
        Check(NvrtcNative.Version(&major, &minor), "nvrtcVersion");
        return $"{major}.{minor}";
    }

    private static void Check(int result, string what)
    {
        if (result != NvrtcNative.Success)
        {
            throw new InvalidOperationException($"NVRTC ({what}): {NvrtcNative.ErrorText(result)}");
        }
    }

    private static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(root, "sharptune", "kernels");
    }
}
