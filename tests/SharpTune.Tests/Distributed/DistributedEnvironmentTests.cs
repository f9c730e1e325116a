using SharpTune.Distributed;

namespace SharpTune.Tests.Distributed;

public sealed class DistributedEnvironmentTests
{
    private static Func<string, string?> Variables(params (string Name, string Value)[] pairs)
    {
        var map = pairs.ToDictionary(p => p.Name, p => p.Value);
        return name => map.GetValueOrDefault(name);
    }

    [Fact]
    public void Without_variables_it_is_a_single_main_process()
    {
        var environment = DistributedEnvironment.FromEnvironment(Variables());
        Assert.Equal(DistributedEnvironment.Single, environment);
        Assert.True(environment.IsMain);
        Assert.False(environment.IsDistributed);
    }

    [Fact]
    public void Torchrun_variables_are_read()
    {
        var environment = DistributedEnvironment.FromEnvironment(Variables(
            ("RANK", "5"), ("WORLD_SIZE", "8"), ("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "4"), ("MASTER_ADDR", "node0"), ("MASTER_PORT", "1234")));
        Assert.Equal(new DistributedEnvironment(5, 8, 1, 4, "node0", 1234, DistributedLauncherKind.Torchrun), environment);
        Assert.False(environment.IsMain);
        Assert.Equal(2, environment.NodeCount);
        Assert.Equal(1, environment.CudaDeviceIndex(4));
        Assert.Equal(0, environment.CudaDeviceIndex(1)); // pinned by CUDA_VISIBLE_DEVICES
    }

    [Fact]
    public void The_launcher_kind_is_told_apart()
    {
        var launched = DistributedEnvironment.FromEnvironment(Variables(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("SHARPTUNE_LAUNCHED", "1")));
        Assert.Equal(DistributedLauncherKind.SharpTune, launched.Launcher);
        Assert.Equal(DistributedEnvironment.DefaultMasterPort, launched.MasterPort);
        var pod = DistributedEnvironment.FromEnvironment(Variables(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "svc"), ("KUBERNETES_SERVICE_HOST", "10.0.0.1")));
        Assert.Equal(DistributedLauncherKind.Kubernetes, pod.Launcher);
    }

    [Fact]
    public void Slurm_variables_are_read_and_the_first_node_hosts_the_store()
    {
        var environment = DistributedEnvironment.FromEnvironment(Variables(
            ("SLURM_PROCID", "3"), ("SLURM_NTASKS", "4"), ("SLURM_LOCALID", "1"), ("SLURM_NTASKS_PER_NODE", "2(x2)"), ("SLURM_JOB_NODELIST", "gpu[07-08]")));
        Assert.Equal(new DistributedEnvironment(3, 4, 1, 2, "gpu07", DistributedEnvironment.DefaultMasterPort, DistributedLauncherKind.Slurm), environment);
        Assert.Equal("node1", DistributedEnvironment.FirstHost("node1,node2"));
        Assert.Equal("a05", DistributedEnvironment.FirstHost("a[05,09-10],b1"));
        Assert.Equal(8, DistributedEnvironment.TasksPerNode("8"));
    }

    [Fact]
    public void Torchrun_variables_win_over_slurm_ones()
    {
        var environment = DistributedEnvironment.FromEnvironment(Variables(
            ("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "h"), ("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1")));
        Assert.Equal(1, environment.Rank);
        Assert.Equal(DistributedLauncherKind.Torchrun, environment.Launcher);
    }

    [Theory]
    [InlineData("RANK=2,WORLD_SIZE=2,MASTER_ADDR=h", "RANK=2 is not below WORLD_SIZE=2")]
    [InlineData("RANK=x,WORLD_SIZE=2,MASTER_ADDR=h", "RANK=x is not a whole number >= 0")]
    [InlineData("RANK=0,WORLD_SIZE=2", "MASTER_ADDR is not set: the ranks need the address of rank 0's host to meet")]
    [InlineData("WORLD_SIZE=2,MASTER_ADDR=h", "RANK is not set (the other distributed variables are)")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=70000", "MASTER_PORT=70000 is not a TCP port")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,LOCAL_RANK=2,LOCAL_WORLD_SIZE=2", "LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2")]
    public void Bad_settings_are_one_line_errors_naming_the_variable(string settings, string message)
    {
        var pairs = settings.Split(',').Select(s => s.Split('=')).Select(p => (p[0], p[1])).ToArray();
        var e = Assert.Throws<DistributedException>(() => DistributedEnvironment.FromEnvironment(Variables(pairs)));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_rank_without_its_own_gpu_is_an_error()
    {
        var environment = new DistributedEnvironment(3, 4, 3, 4, "h", 1, DistributedLauncherKind.Torchrun);
        Assert.Contains("LOCAL_RANK=3 but sees only 2 CUDA devices", Assert.Throws<DistributedException>(() => environment.CudaDeviceIndex(2)).Message);
        Assert.Throws<DistributedException>(() => environment.CudaDeviceIndex(0));
    }

    [Fact]
    public void Variables_round_trip()
    {
        var environment = new DistributedEnvironment(3, 4, 1, 2, "10.1.2.3", 4567, DistributedLauncherKind.Torchrun);
        var read = DistributedEnvironment.FromEnvironment(name => environment.ToVariables().GetValueOrDefault(name));
        Assert.Equal(environment, read);
    }
}
