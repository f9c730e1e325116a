using SharpTune.Distributed;
using SharpTune.Distributed.Launch;

namespace SharpTune.Tests.Distributed;

public sealed class LocalLauncherTests
{
    private static readonly LaunchOptions Two = new() { ProcessesPerNode = 2, Program = "sharptune", Arguments = ["train"] };

    [Fact]
    public void Each_rank_gets_torchrun_variables_its_gpu_and_multicast_off()
    {
        var variables = LocalLauncher.RankEnvironment(Two, 1, 29501, "5", _ => null);
        Assert.Equal("1", variables["RANK"]);
        Assert.Equal("2", variables["WORLD_SIZE"]);
        Assert.Equal("1", variables["LOCAL_RANK"]);
        Assert.Equal("2", variables["LOCAL_WORLD_SIZE"]);
        Assert.Equal("127.0.0.1", variables["MASTER_ADDR"]);
        Assert.Equal("29501", variables["MASTER_PORT"]);
        Assert.Equal("1", variables["SHARPTUNE_LAUNCHED"]);
        Assert.Equal("5", variables["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("0", variables["NCCL_NVLS_ENABLE"]);
        Assert.Equal("1", variables["TORCH_SYMM_MEM_DISABLE_MULTICAST"]);
        Assert.Equal("1", variables["NVSHMEM_DISABLE_NVLS"]);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), variables["OMP_NUM_THREADS"]);

        var read = DistributedEnvironment.FromEnvironment(variables.GetValueOrDefault);
        Assert.Equal(new DistributedEnvironment(1, 2, 1, 2, "127.0.0.1", 29501, DistributedLauncherKind.SharpTune), read);
    }

    [Fact]
    public void A_multicast_setting_already_in_the_environment_is_kept_and_extra_variables_apply_last()
    {
        var options = Two with { Environment = new Dictionary<string, string> { ["FOO"] = "bar", ["RANK"] = "9" } };
        var variables = LocalLauncher.RankEnvironment(options, 0, 1, null, name => name switch { "NCCL_NVLS_ENABLE" => "0", "OMP_NUM_THREADS" => "3", _ => null });
        Assert.Equal("0", variables["NCCL_NVLS_ENABLE"]);
        Assert.Equal("3", variables["OMP_NUM_THREADS"]);
        Assert.Equal("bar", variables["FOO"]);
        Assert.Equal("9", variables["RANK"]);
        Assert.False(variables.ContainsKey("CUDA_VISIBLE_DEVICES"));
    }

    [Fact]
    public void Ranks_of_the_second_node_follow_the_first_nodes()
    {
        var options = Two with { NodeCount = 3, NodeRank = 2, MasterAddress = "10.0.0.1", MasterPort = 29500 };
        var variables = LocalLauncher.RankEnvironment(options, 1, 29500, "1", _ => null);
        Assert.Equal("5", variables["RANK"]);
        Assert.Equal("6", variables["WORLD_SIZE"]);
        Assert.Equal("1", variables["LOCAL_RANK"]);
        Assert.Equal("10.0.0.1", variables["MASTER_ADDR"]);
    }

    [Fact]
    public void Gpus_come_from_cuda_visible_devices_or_are_numbered_and_too_few_is_an_error()
    {
        Assert.Equal(["3", "5"], LocalLauncher.GpuIds(2, "3, 5,7", null));
        Assert.Equal(["0", "1", "2"], LocalLauncher.GpuIds(3, null, null));
        Assert.Equal(["0", "1"], LocalLauncher.GpuIds(2, "", 8));
        Assert.Equal("--gpus 4: CUDA_VISIBLE_DEVICES=1,2 lists only 2 GPU(s)", Assert.Throws<DistributedException>(() => LocalLauncher.GpuIds(4, "1,2", 8)).Message);
        Assert.Equal("--gpus 4: this host has 2 GPU(s)", Assert.Throws<DistributedException>(() => LocalLauncher.GpuIds(4, null, 2)).Message);
    }

    [Theory]
    [InlineData(0, 1, 0, "127.0.0.1", 0, "--gpus must be at least 1 (got 0)")]
    [InlineData(2, 2, 2, "10.0.0.1", 29500, "--node-rank 2 is not in [0, 2) for --nnodes 2")]
    [InlineData(2, 2, 1, "10.0.0.1", 0, "a job over several hosts needs --master-port (the same on every host)")]
    [InlineData(2, 2, 1, "127.0.0.1", 29500, "a job over several hosts needs --master-addr: node 0's address as the other hosts reach it")]
    public void Bad_options_are_rejected_before_anything_starts(int gpus, int nodes, int nodeRank, string address, int port, string message)
    {
        var options = new LaunchOptions
        {
            ProcessesPerNode = gpus, NodeCount = nodes, NodeRank = nodeRank, MasterAddress = address, MasterPort = port, Program = "/no/such/program",
        };
        var e = Assert.Throws<SharpTuneException>(() => LocalLauncher.Run(options, TextWriter.Null, TextWriter.Null, TestContext.Current.CancellationToken));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_program_that_cannot_start_is_a_clear_error()
    {
        var options = new LaunchOptions { ProcessesPerNode = 1, Program = "/no/such/program", PinGpus = false };
        var e = Assert.Throws<SharpTuneException>(() => LocalLauncher.Run(options, TextWriter.Null, TextWriter.Null, TestContext.Current.CancellationToken));
        Assert.StartsWith("cannot start rank 0: /no/such/program", e.Message);
    }

    [Fact]
    public void Output_is_prefixed_by_rank_and_the_first_real_failure_is_named_with_its_last_stderr_line()
    {
        // Rank 0 stops at once as if a peer had failed (exit 75); rank 1 is the real failure a moment later.
        var options = new LaunchOptions
        {
            ProcessesPerNode = 2,
            Program = "/bin/sh",
            Arguments = ["-c", "echo hello from $RANK; if [ $RANK = 1 ]; then sleep 0.3; echo 'first line' >&2; echo 'CUDA out of memory' >&2; exit 3; else exit 75; fi"],
            PinGpus = false,
        };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var result = LocalLauncher.Run(options, stdout, stderr, TestContext.Current.CancellationToken);
        Assert.False(result.Succeeded);
        Assert.Equal(1, result.FailedRank!.Rank);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("rank 1 exited with code 3: CUDA out of memory; the other ranks were stopped", result.FailureMessage);
        Assert.Contains("[rank 0] hello from 0", stdout.ToString());
        Assert.Contains("[rank 1] hello from 1", stdout.ToString());
        Assert.Contains("[rank 1] CUDA out of memory", stderr.ToString());
    }

    [Fact]
    public void A_failing_rank_gets_the_others_killed_at_once()
    {
        var options = new LaunchOptions
        {
            ProcessesPerNode = 3,
            Program = "/bin/sh",
            Arguments = ["-c", "if [ $RANK = 2 ]; then sleep 0.2; exit 1; else exec sleep 60; fi"],
            PinGpus = false,
        };
        var result = LocalLauncher.Run(options, TextWriter.Null, TextWriter.Null, TestContext.Current.CancellationToken);
        Assert.True(result.Duration < TimeSpan.FromSeconds(5), $"took {result.Duration}");
        Assert.Equal(2, result.FailedRank!.Rank);
        Assert.Equal("rank 2 exited with code 1 (it wrote nothing to stderr); the other ranks were stopped", result.FailureMessage);
        Assert.True(result.Ranks[0].KilledByLauncher);
        Assert.True(result.Ranks[1].KilledByLauncher);
    }

    [Fact]
    public void A_signal_death_is_described_as_such()
    {
        var exit = new RankExit(1, 137, false, null, DateTime.UtcNow);
        Assert.Equal("was killed by signal 9 (SIGKILL; out of memory?)", exit.DescribeExit());
        Assert.Equal("exited with code 2", (exit with { ExitCode = 2 }).DescribeExit());
    }
}
