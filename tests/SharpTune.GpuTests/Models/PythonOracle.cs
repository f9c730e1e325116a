using System.Diagnostics;

namespace SharpTune.GpuTests.Models;

/// <summary>Runs the Python oracle scripts of tests/oracles (transformers on this GPU host) and locates the repository.</summary>
internal static class PythonOracle
{
    /// <summary>The repository root: $SHARPTUNE_REPO, else the current directory or the first directory above it with tests/oracles.</summary>
    public static string RepositoryRoot
    {
        get
        {
            if (Environment.GetEnvironmentVariable("SHARPTUNE_REPO") is { Length: > 0 } repo)
            {
                return repo;
            }

            for (var directory = new DirectoryInfo(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
            {
                if (Directory.Exists(Path.Combine(directory.FullName, "tests", "oracles")))
                {
                    return directory.FullName;
                }
            }

            return Directory.GetCurrentDirectory();
        }
    }

    public static string Script(string name) => Path.Combine(RepositoryRoot, "tests", "oracles", name);

    /// <summary>Runs <c>python3 script args</c>, fails the test with its output if it exits non-zero, returns its stdout.</summary>
    public static string Run(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script(script));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(9)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} did not finish in 9 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 {script} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        }

        return stdout.Result;
    }
}
