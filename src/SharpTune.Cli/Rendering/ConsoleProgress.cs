using System.Diagnostics;
using SharpTune.Progress;

namespace SharpTune.Cli.Rendering;

/// <summary>
/// Renders <see cref="OperationProgress"/> reports on standard error: a redrawn bar with rate and ETA on a terminal,
/// or a plain line every few seconds when output goes to a file or a CI log (so logs stay readable).
/// </summary>
public sealed class ConsoleProgress : IProgress<OperationProgress>, IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private readonly TimeSpan _plainInterval;
    private TimeSpan? _lastWrite;
    private OperationProgress? _last;
    private string _lastTask = "";
    private TimeSpan _taskStart;
    private long _taskStartDone;

    public ConsoleProgress(TextWriter writer, bool? interactive = null, TimeSpan? plainInterval = null)
    {
        _writer = writer;
        _interactive = interactive ?? (!Console.IsErrorRedirected && ReferenceEquals(writer, Console.Error));
        _plainInterval = plainInterval ?? TimeSpan.FromSeconds(5);
    }

    public void Report(OperationProgress value)
    {
        lock (_gate)
        {
            var now = _clock.Elapsed;
            if (value.Task != _lastTask)
            {
                FinishLine();
                _lastTask = value.Task;
                _taskStart = now;
                _taskStartDone = value.Done;
                _lastWrite = null;
            }

            _last = value;
            bool finished = value.Total is { } total && value.Done >= total;
            var interval = _interactive ? TimeSpan.FromMilliseconds(100) : _plainInterval;
            if (!finished && _lastWrite is { } last && now - last < interval)
            {
                return;
            }

            _lastWrite = now;
            string line = Format(value, now - _taskStart, _taskStartDone);
            if (_interactive)
            {
                int width = Math.Max(40, Console.IsErrorRedirected ? 120 : Console.WindowWidth - 1);
                _writer.Write("\r" + (line.Length > width ? line[..width] : line.PadRight(width)));
                if (finished)
                {
                    _writer.WriteLine();
                    _last = null;
                }
            }
            else
            {
                _writer.WriteLine(line);
            }
        }
    }

    /// <summary>
    /// One progress line, e.g. "train [#####---------------]  25% 25/100 step  0.5 step/s  ETA 02:30  loss 1.23".
    /// <paramref name="startDone"/> is where this task's first report stood (a resumed training run
    /// or download): the rate and ETA count only the work done since, not what an earlier run did.
    /// </summary>
    public static string Format(OperationProgress p, TimeSpan elapsed, long startDone = 0)
    {
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-3);
        double rate = Math.Max(0, p.Done - startDone) / seconds;
        string amount = p.Unit == "B"
            ? $"{Bytes(p.Done)}{(p.Total is { } t ? "/" + Bytes(t) : "")}"
            : $"{p.Done}{(p.Total is { } u ? "/" + u : "")} {p.Unit}";
        string speed = p.Unit == "B" ? $"{Bytes((long)rate)}/s" : $"{rate:0.##} {p.Unit}/s";
        string bar = "";
        string eta = "";
        if (p.Fraction is { } f)
        {
            int filled = (int)Math.Round(f * 20);
            bar = $" [{new string('#', filled)}{new string('-', 20 - filled)}] {f * 100,3:0}%";
            if (rate > 0 && p.Total is { } total)
            {
                var remaining = TimeSpan.FromSeconds((total - p.Done) / rate);
                eta = $"  ETA {(remaining.TotalHours >= 1 ? remaining.ToString(@"h\:mm\:ss") : remaining.ToString(@"mm\:ss"))}";
            }
        }

        return $"{p.Task}{bar} {amount}  {speed}{eta}{(p.Detail is null ? "" : "  " + p.Detail)}";
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };

    private void FinishLine()
    {
        if (_interactive && _last is not null)
        {
            _writer.WriteLine();
        }

        _last = null;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            FinishLine();
        }
    }
}
