using System.Diagnostics;

namespace SharpTune.Runtime;

/// <summary>
/// Finds the libtorch to load: the explicit option, then SHARPTUNE_LIBTORCH, then the natives bundled with the
/// application, then an installed PyTorch found through python3 (SHARPTUNE_PYTHON names another interpreter).
/// </summary>
public static class LibTorchLocator
{
    public const string DirectoryVariable = "SHARPTUNE_LIBTORCH";
    public const string PythonVariable = "SHARPTUNE_PYTHON";

    /// <summary>The library every libtorch directory must hold.</summary>
    public const string CoreLibrary = "libtorch_cpu.so";

    public static LibTorchLocation Locate(string? explicitDirectory, string? applicationDirectory = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            return Validate(explicitDirectory, LibTorchOrigin.Option, "--libtorch");
        }

        string? fromEnvironment = environment(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Validate(fromEnvironment, LibTorchOrigin.Environment, DirectoryVariable);
        }

        var bundled = FindBundled(applicationDirectory ?? AppContext.BaseDirectory);
        if (bundled is not null)
        {
            return new LibTorchLocation(bundled, LibTorchOrigin.Bundled, ReadBundledVersion());
        }

        var python = TryFindPythonTorch(environment(PythonVariable) is { Length: > 0 } p ? p : "python3", out string? why);
        if (python is not null)
        {
            return python;
        }

        throw new SharpTuneException(
            "no libtorch found: this build has no bundled libtorch-cpu and " + why +
            $"; set {DirectoryVariable} to a libtorch lib directory (for PyTorch: <site-packages>/torch/lib) or install PyTorch");
    }

    /// <summary>Checks that <paramref name="directory"/> exists and holds libtorch; errors name the setting.</summary>
    public static LibTorchLocation Validate(string directory, LibTorchOrigin origin, string settingName)
    {
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new SharpTuneException($"{settingName}={directory}: directory does not exist");
        }

        // A PyTorch install or a libtorch zip may be given by its root rather than its lib folder.
        if (!File.Exists(Path.Combine(full, CoreLibrary)) && File.Exists(Path.Combine(full, "lib", CoreLibrary)))
        {
            full = Path.Combine(full, "lib");
        }

        if (!File.Exists(Path.Combine(full, CoreLibrary)))
        {
            throw new SharpTuneException($"{settingName}={directory}: no {CoreLibrary} there; expected a libtorch lib directory such as <site-packages>/torch/lib");
        }

        return new LibTorchLocation(full, origin, ReadVersionBeside(full));
    }

    /// <summary>The directory of the libtorch natives shipped with the application, if any.</summary>
    public static string? FindBundled(string applicationDirectory)
    {
        foreach (string candidate in new[] { applicationDirectory, Path.Combine(applicationDirectory, "runtimes", "linux-x64", "native") })
        {
            if (File.Exists(Path.Combine(candidate, CoreLibrary)))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return null;
    }

    /// <summary>Asks python3 where torch is installed; null with a reason when it cannot say.</summary>
    public static LibTorchLocation? TryFindPythonTorch(string python, out string? why)
    {
        const string script = "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib')); print(torch.__version__)";
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                why = $"{python} did not answer within 120 s";
                return null;
            }

            if (process.ExitCode != 0)
            {
                string last = stderr.Result.Trim().Split('\n').LastOrDefault()?.Trim() ?? "";
                why = $"{python} cannot import torch ({last})";
                return null;
            }

            var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length < 1 || !File.Exists(Path.Combine(lines[0], CoreLibrary)))
            {
                why = $"{python} reports torch without {CoreLibrary}";
                return null;
            }

            why = null;
            return new LibTorchLocation(lines[0], LibTorchOrigin.Python, lines.Length > 1 ? lines[1] : null);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            why = $"{python} is not installed";
            return null;
        }
    }

    private static string? ReadBundledVersion() =>
        typeof(LibTorchLocator).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BundledLibTorchVersion")?.Value;

    /// <summary>Reads torch's version from a PyTorch install (torch/version.py) or a libtorch zip (build-version).</summary>
    private static string? ReadVersionBeside(string libDirectory)
    {
        var parent = Path.GetDirectoryName(libDirectory);
        if (parent is null)
        {
            return null;
        }

        string versionPy = Path.Combine(parent, "version.py");
        if (File.Exists(versionPy))
        {
            var line = File.ReadLines(versionPy).FirstOrDefault(l => l.StartsWith("__version__", StringComparison.Ordinal));
            if (line is not null)
            {
                return line.Split('=', 2)[1].Trim().Trim('\'', '"');
            }
        }

        string buildVersion = Path.Combine(parent, "build-version");
        return File.Exists(buildVersion) ? File.ReadAllText(buildVersion).Trim() : null;
    }
}
