using SharpTune.Cli.Rendering;
using SharpTune.Progress;

namespace SharpTune.Tests.Cli;

public sealed class ConsoleProgressTests
{
    [Fact]
    public void A_step_report_shows_bar_rate_eta_and_detail()
    {
        string line = ConsoleProgress.Format(new OperationProgress("train", 25, 100, "step", "loss 1.23"), TimeSpan.FromSeconds(50));
        Assert.Equal("train [#####---------------]  25% 25/100 step  0.5 step/s  ETA 02:30  loss 1.23", line);
    }

    [Fact]
    public void A_resumed_task_counts_its_rate_and_eta_from_where_it_resumed()
    {
        // Resumed at step 125 of 400; 25 steps in 50 s since then: 0.5 step/s, 250 steps left -> 8:20.
        string line = ConsoleProgress.Format(new OperationProgress("train", 150, 400, "step"), TimeSpan.FromSeconds(50), startDone: 125);
        Assert.Equal("train [########------------]  38% 150/400 step  0.5 step/s  ETA 08:20", line);

        var writer = new StringWriter();
        using (var progress = new ConsoleProgress(writer, interactive: false, plainInterval: TimeSpan.Zero))
        {
            progress.Report(new OperationProgress("train", 125, 400, "step", "resumed at step 125"));
        }

        Assert.Contains(" 0 step/s", writer.ToString());
    }

    [Fact]
    public void Byte_reports_are_shown_in_binary_units_and_unknown_totals_have_no_bar()
    {
        string line = ConsoleProgress.Format(new OperationProgress("download x", 3L << 20, null, "B"), TimeSpan.FromSeconds(1));
        Assert.Equal("download x 3.0 MiB  3.0 MiB/s", line);
    }

    [Fact]
    public void Redirected_output_gets_plain_lines_and_always_the_final_one()
    {
        var writer = new StringWriter();
        using (var progress = new ConsoleProgress(writer, interactive: false, plainInterval: TimeSpan.FromHours(1)))
        {
            for (int i = 1; i <= 10; i++)
            {
                progress.Report(new OperationProgress("rows", i, 10, "row"));
            }
        }

        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length); // the first report, then the finished one
        Assert.StartsWith("rows [##--", lines[0]);
        Assert.Contains("10/10 row", lines[1]);
        Assert.DoesNotContain('\r', writer.ToString());
    }
}
