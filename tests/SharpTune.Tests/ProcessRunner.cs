using System.Diagnostics;

namespace SharpTune.Tests;

/// <summary>Runs an external program for a test and returns its standard output, or null if it is not installed.</summary>
internal static class ProcessRunner
{
    public static string? Run(string program, params string[] arguments) => RunWithExitCode(program, null, arguments)?.StdOut;

    public static (int ExitCode, string StdOut, string StdErr)? RunWithExitCode(string program, IDictionary<string, string?>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[key] = value;
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} did not finish in 5 minutes");
            }

            return (process.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
