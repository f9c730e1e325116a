using System.Diagnostics;
using SharpTune.Distributed;
using SharpTune.Distributed.Launch;

namespace SharpTune.Tests.Distributed;

/// <summary>
/// Real processes on 127.0.0.1: the sharptune tool's hidden <c>launch --selftest</c> mode, started through the
/// launcher or directly with torchrun-style variables (as an external launcher would).
/// </summary>
public sealed class MultiProcessRendezvousTests(ITestOutputHelper output)
{
    private static string Cli => Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll");

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    [Fact]
    public void Four_ranks_meet_sum_through_the_store_and_pass_barriers()
    {
        var run = RunTool(null, "launch", "--gpus", "4", "--selftest", "store", "--steps", "5");
        Assert.True(run.Code == 0, run.Err);
        for (int rank = 0; rank < 4; rank++)
        {
            Assert.Contains($"[rank {rank}] rank {rank} of 4 joined (SharpTune); store sum 10 ok", run.Out);
            Assert.Contains($"[rank {rank}] selftest store ok: rank {rank} passed 5 barriers", run.Out);
        }

        Assert.Contains("launch: all 4 ranks finished", run.Err);
    }

    [Fact]
    public void A_rank_killed_mid_run_ends_the_launched_job_within_seconds_naming_it()
    {
        // 1000 barriers take far longer than the limit, so only the failure handling can end the job in time.
        var run = RunTool("failing on purpose", "launch", "--gpus", "3", "--selftest", "store", "--steps", "1000", "--fail-rank", "1", "--fail-at-step", "3", "--fail-mode", "kill");
        output.WriteLine($"from the kill to the launcher's exit: {run.SinceMarker.TotalMilliseconds:0} ms");
        Assert.Equal(137, run.Code);
        Assert.Equal("error: rank 1 was killed by signal 9 (SIGKILL; out of memory?) (it wrote nothing to stderr); the other ranks were stopped", run.Err.Trim().Split('\n')[^1]);
        Assert.True(run.SinceMarker < TimeSpan.FromSeconds(5), $"the job took {run.SinceMarker} to end after the kill");
        Assert.DoesNotContain("selftest store ok", run.Out);
    }

    [Fact]
    public void A_rank_that_exits_with_an_error_is_named_with_its_last_stderr_line()
    {
        var run = RunTool(null, "launch", "--gpus", "2", "--selftest", "store", "--steps", "1000", "--fail-rank", "1", "--fail-at-step", "2", "--fail-mode", "exit");
        Assert.Equal(3, run.Code);
        Assert.EndsWith("error: rank 1 exited with code 3: selftest: rank 1 exits on purpose at step 2; the other ranks were stopped", run.Err.Trim());
    }

    [Fact]
    public async Task Without_a_launcher_the_surviving_ranks_stop_themselves_naming_the_dead_rank()
    {
        // As under torchrun or Slurm: the processes are started directly and nobody kills the survivors for them.
        int port = LocalLauncher.FreeLoopbackPort();
        var ranks = Enumerable.Range(0, 3).Select(rank => StartRank(rank, 3, port, "--steps", "1000", "--fail-rank", "2", "--fail-at-step", "3", "--fail-mode", "kill")).ToArray();
        try
        {
            var clock = Stopwatch.StartNew();
            foreach (var (process, _, _) in ranks)
            {
                Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "a rank hung after its peer died");
            }

            output.WriteLine($"all ranks ended {clock.ElapsedMilliseconds} ms after start");
            Assert.Equal(137, ranks[2].Process.ExitCode);
            foreach (int survivor in new[] { 0, 1 })
            {
                var (process, _, stderr) = ranks[survivor];
                process.WaitForExit();
                Assert.Equal(DistributedException.PeerFailedExitCode, process.ExitCode);
                Assert.StartsWith("error: rank 2 failed: its connection to the rendezvous store dropped without a goodbye", (await stderr).Trim());
            }
        }
        finally
        {
            foreach (var (process, _, _) in ranks)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                process.Dispose();
            }
        }
    }

    [Fact]
    public void A_rank_that_never_comes_is_named_by_the_rendezvous_timeout()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var environment = new DistributedEnvironment(0, 3, 0, 3, "127.0.0.1", port, DistributedLauncherKind.Torchrun);
        var other = StartRank(1, 3, port);
        try
        {
            var e = Assert.Throws<DistributedTimeoutException>(() => RendezvousSession.Join(environment, new RendezvousOptions { JoinTimeout = TimeSpan.FromSeconds(3) }));
            Assert.Equal($"rendezvous at 127.0.0.1:{port}: rank(s) 2 of 3 did not join within 3 s", e.Message);
        }
        finally
        {
            other.Process.Kill(entireProcessTree: true);
            other.Process.Dispose();
        }
    }

    [Fact]
    public void Two_cpu_ranks_broadcast_and_average_bucketed_gradients_through_the_synchronizer()
    {
        var run = RunTool(null, "launch", "--gpus", "2", "--selftest", "collectives");
        Assert.True(run.Code == 0, run.Err);
        foreach (int rank in new[] { 0, 1 })
        {
            Assert.Contains($"[rank {rank}] rank {rank}: broadcast, gradient mean (bucketed, overlapped) and sum ok in Float32", run.Out);
            Assert.Contains($"[rank {rank}] selftest collectives ok: rank {rank} of 2 on cpu", run.Out);
        }
    }

    [Fact]
    public void Training_on_two_ranks_with_half_the_batch_each_gives_the_one_rank_loss_curve()
    {
        var one = RunTool(null, "launch", "--gpus", "1", "--selftest", "equivalence", "--steps", "4");
        var two = RunTool(null, "launch", "--gpus", "2", "--selftest", "equivalence", "--steps", "4");
        Assert.True(one.Code == 0, one.Err);
        Assert.True(two.Code == 0, two.Err);
        var lossesOne = Losses(one.Out);
        var lossesTwo = Losses(two.Out);
        Assert.Equal(4, lossesOne.Length);
        Assert.Equal(4, lossesTwo.Length);
        for (int step = 0; step < 4; step++)
        {
            Assert.True(Math.Abs(lossesOne[step] - lossesTwo[step]) <= 1e-5 * lossesOne[step], $"step {step + 1}: {lossesOne[step]} vs {lossesTwo[step]}");
        }

        Assert.True(lossesOne[^1] < lossesOne[0], "the loss did not go down");
        Assert.Contains("[rank 1] selftest equivalence ok: rank 1 of 2 on cpu", two.Out);

        static double[] Losses(string text) => [.. System.Text.RegularExpressions.Regex.Matches(text, @"\[rank 0\] equivalence step \d+ loss ([0-9.]+)")
            .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
    }

    [Fact]
    public void Launch_without_a_command_is_a_usage_error()
    {
        var run = RunTool(null, "launch", "--gpus", "2");
        Assert.Equal(1, run.Code);
        Assert.Equal("error: launch needs the command every rank runs after '--', e.g. sharptune launch --gpus 2 -- train --config run.yaml", run.Err.Trim());
    }

    private (Process Process, Task<string> Out, Task<string> Err) StartRank(int rank, int world, int port, params string[] extra)
    {
        var start = new ProcessStartInfo(Dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { Cli, "launch", "--worker", "--selftest", "store" }.Concat(extra))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["RANK"] = rank.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["WORLD_SIZE"] = world.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["MASTER_ADDR"] = "127.0.0.1";
        start.Environment["MASTER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        return (process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    /// <summary>Runs the tool; with <paramref name="marker"/>, also times from the first stdout line containing it to the exit.</summary>
    private (int Code, string Out, string Err, TimeSpan SinceMarker) RunTool(string? marker, params string[] arguments)
    {
        var start = new ProcessStartInfo(Dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Cli);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        Stopwatch? sinceMarker = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stdout)
            {
                stdout.AppendLine(e.Data);
                if (marker is not null && sinceMarker is null && e.Data.Contains(marker, StringComparison.Ordinal))
                {
                    sinceMarker = Stopwatch.StartNew();
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sharptune {string.Join(' ', arguments)} did not finish in 2 minutes:\n{stdout}\n{stderr}");
        }

        var elapsed = sinceMarker?.Elapsed ?? TimeSpan.Zero;
        process.WaitForExit();
        output.WriteLine(stdout.ToString());
        output.WriteLine(stderr.ToString());
        return (process.ExitCode, stdout.ToString(), stderr.ToString(), elapsed);
    }
}
