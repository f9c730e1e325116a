using SharpTune.Runtime.Elf;

namespace SharpTune.Runtime;

/// <summary>The libstdc++ this process runs with, and the symbol versions it defines.</summary>
public sealed record SystemLibStdCxx(string Path, IReadOnlySet<string> Versions)
{
    /// <summary>The newest GLIBCXX_x.y.z version defined, for reports.</summary>
    public string NewestGlibcxx => Versions
        .Where(v => v.StartsWith("GLIBCXX_", StringComparison.Ordinal))
        .OrderBy(v => Version.TryParse(v["GLIBCXX_".Length..], out var parsed) ? parsed : new Version(0, 0))
        .LastOrDefault() ?? "unknown";

    public bool Provides(string version) => Versions.Contains(version);

    /// <summary>Finds libstdc++.so.6 as mapped into this process (the .NET host links it), else in the usual places.</summary>
    public static SystemLibStdCxx? TryFind()
    {
        string? path = null;
        try
        {
            path = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(parts => parts.Length >= 6 && parts[5].Contains("libstdc++.so", StringComparison.Ordinal))
                .Select(parts => parts[5])
                .FirstOrDefault();
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        path ??= new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (path is null)
        {
            return null;
        }

        try
        {
            return new SystemLibStdCxx(path, ElfImage.Load(path).VersionDefinitions().ToHashSet(StringComparer.Ordinal));
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
