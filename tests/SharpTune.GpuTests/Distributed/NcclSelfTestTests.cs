using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SharpTune.GpuTests.Distributed;

/// <summary>
/// Multi-GPU checks through the real tool: <c>sharptune launch --gpus 2 --selftest nccl</c> starts two processes,
/// each on its own GPU, that broadcast parameters and average bucketed gradients of real CUDA tensors through
/// NCCL (float32 and bf16, exact expected values), then measure all-reduce bandwidth. Needs 2 GPUs; NVLink
/// multicast stays off (the launcher sets NCCL_NVLS_ENABLE=0).
/// </summary>
public sealed partial class NcclSelfTestTests(ITestOutputHelper output)
{
    [Fact]
    public void Two_ranks_broadcast_and_average_gradients_of_cuda_tensors_through_nccl()
    {
        Assert.SkipWhen(CudaFixture.Runtime.CudaDeviceCount < 2, "needs 2 GPUs");
        var (code, stdout, stderr, elapsed) = RunTool(TimeSpan.FromMinutes(4), "launch", "--gpus", "2", "--selftest", "nccl");
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        foreach (int rank in new[] { 0, 1 })
        {
            Assert.Contains($"[rank {rank}] rank {rank}: broadcast, gradient mean (bucketed, overlapped) and sum ok in Float32", stdout);
            Assert.Contains($"[rank {rank}] rank {rank}: broadcast, gradient mean (bucketed, overlapped) and sum ok in BFloat16", stdout);
            Assert.Contains($"[rank {rank}] selftest nccl ok: rank {rank} of 2 on cuda:0", stdout);
        }

        var bandwidth = BusBandwidth().Match(stdout);
        Assert.True(bandwidth.Success, "no bandwidth line");
        output.WriteLine($"busbw {bandwidth.Groups[1].Value} GB/s; whole job {elapsed.TotalSeconds:0.0} s");
        Assert.True(double.Parse(bandwidth.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 5, "all-reduce bus bandwidth under 5 GB/s");
    }

    [Fact]
    public void A_rank_killed_during_a_gpu_job_ends_the_job_within_seconds_naming_it()
    {
        Assert.SkipWhen(CudaFixture.Runtime.CudaDeviceCount < 2, "needs 2 GPUs");
        var (code, stdout, stderr, elapsed) = RunTool(TimeSpan.FromMinutes(4), "launch", "--gpus", "2", "--selftest", "nccl", "--fail-rank", "1", "--fail-mode", "kill");
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.NotEqual(0, code);
        Assert.Contains("error: rank 1 was killed by signal 9", stderr);
        Assert.DoesNotContain("selftest nccl ok", stdout);
    }

    [Fact]
    public void Training_on_two_gpus_with_half_the_batch_each_gives_the_one_gpu_loss_curve()
    {
        Assert.SkipWhen(CudaFixture.Runtime.CudaDeviceCount < 2, "needs 2 GPUs");
        var one = RunTool(TimeSpan.FromMinutes(3), "launch", "--gpus", "1", "--selftest", "equivalence", "--steps", "30");
        var two = RunTool(TimeSpan.FromMinutes(3), "launch", "--gpus", "2", "--selftest", "equivalence", "--steps", "30");
        output.WriteLine(one.Out);
        output.WriteLine(two.Out);
        Assert.True(one.Code == 0, one.Err);
        Assert.True(two.Code == 0, two.Err);
        var lossesOne = Losses(one.Out);
        var lossesTwo = Losses(two.Out);
        Assert.Equal(30, lossesOne.Length);
        Assert.Equal(30, lossesTwo.Length);
        for (int step = 0; step < 30; step++)
        {
            Assert.True(Math.Abs(lossesOne[step] - lossesTwo[step]) <= 1e-4 * lossesOne[step], $"step {step + 1}: {lossesOne[step]} vs {lossesTwo[step]}");
        }

        Assert.True(lossesOne[^1] < lossesOne[0] - 0.1, "the loss did not go down");
        Assert.Contains("[rank 1] selftest equivalence ok: rank 1 of 2 on cuda:0", two.Out);
    }

    private static double[] Losses(string text) => [.. Regex.Matches(text, @"\[rank 0\] equivalence step \d+ loss ([0-9.]+)")
        .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];

    private static (int Code, string Out, string Err, TimeSpan Elapsed) RunTool(TimeSpan limit, params string[] arguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sharptune {string.Join(' ', arguments)} did not finish in {limit}");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }

    [GeneratedRegex(@"busbw ([0-9.]+) GB/s")]
    private static partial Regex BusBandwidth();
}
