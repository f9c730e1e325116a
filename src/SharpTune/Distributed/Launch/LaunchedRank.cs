using System.Diagnostics;

namespace SharpTune.Distributed.Launch;

/// <summary>One rank's process under <see cref="LocalLauncher"/>: its output relay and how it ended.</summary>
internal sealed class LaunchedRank
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private string? _lastErrorLine;

    private LaunchedRank(Process process, int rank, Task exited)
    {
        _process = process;
        Rank = rank;
        Exited = exited;
    }

    public int Rank { get; }

    /// <summary>Completes when the process has ended and its output is drained.</summary>
    public Task Exited { get; }

    public RankExit? Exit { get; private set; }

    public static LaunchedRank Start(LaunchOptions options, IReadOnlyDictionary<string, string> variables, int rank, TextWriter stdout, TextWriter stderr, Lock outputGate)
    {
        var start = new ProcessStartInfo(options.Program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (string argument in options.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in variables)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        string prefix = $"[rank {rank}] ";
        LaunchedRank? launched = null;
        process.OutputDataReceived += (_, e) => Relay(e.Data, stdout);
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                lock (launched!._gate)
                {
                    launched._lastErrorLine = e.Data.Trim();
                }
            }

            Relay(e.Data, stderr);
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new SharpTuneException($"cannot start rank {rank}: {options.Program}: {e.Message}", e);
        }

        launched = new LaunchedRank(process, rank, process.WaitForExitAsync());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return launched;

        void Relay(string? line, TextWriter writer)
        {
            if (line is null)
            {
                return;
            }

            lock (outputGate)
            {
                writer.WriteLine(prefix + line);
                writer.Flush();
            }
        }
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It ended on its own meanwhile.
        }
    }

    /// <summary>Waits for the end (and the last output) and records it once.</summary>
    public RankExit Collect(bool killedByLauncher)
    {
        if (Exit is not null)
        {
            return Exit;
        }

        _process.WaitForExit();
        string? last;
        lock (_gate)
        {
            last = _lastErrorLine;
        }

        Exit = new RankExit(Rank, _process.ExitCode, killedByLauncher, last, DateTime.UtcNow);
        _process.Dispose();
        return Exit;
    }
}
