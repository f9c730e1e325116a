using System.Globalization;
using System.Text.RegularExpressions;

namespace SharpTune.Distributed;

/// <summary>
/// Where this process stands in a multi-process job, read from the environment with torchrun's conventions: RANK,
/// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Slurm's SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID and SLURM_NTASKS_PER_NODE are used when RANK is absent. Without either: a single process.
/// </summary>
public sealed partial record DistributedEnvironment(
    int Rank,
    int WorldSize,
    int LocalRank,
    int LocalWorldSize,
    string MasterAddress,
    int MasterPort,
    DistributedLauncherKind Launcher)
{
    public const string RankVariable = "RANK";
    public const string WorldSizeVariable = "WORLD_SIZE";
    public const string LocalRankVariable = "LOCAL_RANK";
    public const string LocalWorldSizeVariable = "LOCAL_WORLD_SIZE";
    public const string MasterAddressVariable = "MASTER_ADDR";
    public const string MasterPortVariable = "MASTER_PORT";

    /// <summary>Set to 1 by <c>sharptune launch</c> in the processes it starts.</summary>
    public const string LaunchedVariable = "SHARPTUNE_LAUNCHED";

    /// <summary>torchrun's default rendezvous port.</summary>
    public const int DefaultMasterPort = 29500;

    /// <summary>One process, no peers.</summary>
    public static DistributedEnvironment Single { get; } = new(0, 1, 0, 1, "127.0.0.1", DefaultMasterPort, DistributedLauncherKind.None);

    /// <summary>True for rank 0: the rank that writes checkpoints, logs and artifacts.</summary>
    public bool IsMain => Rank == 0;

    public bool IsDistributed => WorldSize > 1;

    /// <summary>The number of hosts, when every host runs <see cref="LocalWorldSize"/> ranks.</summary>
    public int NodeCount => Math.Max(1, WorldSize / Math.Max(1, LocalWorldSize));

    /// <summary>
    /// The CUDA device this rank uses: 0 when the launcher gave each process one GPU (CUDA_VISIBLE_DEVICES names a
    /// single device, as <c>sharptune launch</c> does), else <see cref="LocalRank"/> (torchrun's convention).
    /// </summary>
    public int CudaDeviceIndex(int visibleDeviceCount)
    {
        if (visibleDeviceCount <= 0)
        {
            throw new DistributedException($"rank {Rank} sees no CUDA device; multi-GPU training needs one GPU per rank");
        }

        if (visibleDeviceCount == 1)
        {
            return 0;
        }

        if (LocalRank >= visibleDeviceCount)
        {
            throw new DistributedException(
                $"rank {Rank} has LOCAL_RANK={LocalRank} but sees only {visibleDeviceCount} CUDA devices; start at most one rank per GPU");
        }

        return LocalRank;
    }

    /// <summary>Reads the process environment (or <paramref name="environment"/> in tests).</summary>
    public static DistributedEnvironment FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(environment(RankVariable)) || !string.IsNullOrWhiteSpace(environment(WorldSizeVariable)))
        {
            return FromTorchrunVariables(environment);
        }

        if (!string.IsNullOrWhiteSpace(environment("SLURM_PROCID")) && !string.IsNullOrWhiteSpace(environment("SLURM_NTASKS")))
        {
            return FromSlurmVariables(environment);
        }

        return Single;
    }

    /// <summary>The variables a launcher sets for this rank (what <see cref="FromEnvironment"/> reads back).</summary>
    public IReadOnlyDictionary<string, string> ToVariables() => new Dictionary<string, string>
    {
        [RankVariable] = Rank.ToString(CultureInfo.InvariantCulture),
        [WorldSizeVariable] = WorldSize.ToString(CultureInfo.InvariantCulture),
        [LocalRankVariable] = LocalRank.ToString(CultureInfo.InvariantCulture),
        [LocalWorldSizeVariable] = LocalWorldSize.ToString(CultureInfo.InvariantCulture),
        [MasterAddressVariable] = MasterAddress,
        [MasterPortVariable] = MasterPort.ToString(CultureInfo.InvariantCulture),
    };

    public string Describe() => WorldSize == 1
        ? "single process"
        : $"rank {Rank} of {WorldSize} (local {LocalRank} of {LocalWorldSize}, {Launcher}, store {MasterAddress}:{MasterPort})";

    private static DistributedEnvironment FromTorchrunVariables(Func<string, string?> environment)
    {
        int worldSize = Required(environment, WorldSizeVariable, min: 1);
        int rank = Required(environment, RankVariable, min: 0);
        if (rank >= worldSize)
        {
            throw new DistributedException($"RANK={rank} is not below WORLD_SIZE={worldSize}");
        }

        int localRank = Optional(environment, LocalRankVariable, worldSize == 1 ? 0 : rank, min: 0);
        int localWorldSize = Optional(environment, LocalWorldSizeVariable, worldSize, min: 1);
        if (localRank >= localWorldSize)
        {
            throw new DistributedException($"LOCAL_RANK={localRank} is not below LOCAL_WORLD_SIZE={localWorldSize}");
        }

        var (address, port) = Master(environment, worldSize, fallbackHost: null);
        var launcher = environment(LaunchedVariable) == "1" ? DistributedLauncherKind.SharpTune
            : !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) ? DistributedLauncherKind.Kubernetes
            : DistributedLauncherKind.Torchrun;
        return new DistributedEnvironment(rank, worldSize, localRank, localWorldSize, address, port, launcher);
    }

    private static DistributedEnvironment FromSlurmVariables(Func<string, string?> environment)
    {
        int worldSize = Required(environment, "SLURM_NTASKS", min: 1);
        int rank = Required(environment, "SLURM_PROCID", min: 0);
        if (rank >= worldSize)
        {
            throw new DistributedException($"SLURM_PROCID={rank} is not below SLURM_NTASKS={worldSize}");
        }

        int localRank = Optional(environment, "SLURM_LOCALID", 0, min: 0);
        int localWorldSize = TasksPerNode(environment("SLURM_NTASKS_PER_NODE") ?? environment("SLURM_TASKS_PER_NODE")) ?? worldSize;
        string? firstNode = FirstHost(environment("SLURM_STEP_NODELIST") ?? environment("SLURM_JOB_NODELIST") ?? environment("SLURM_NODELIST"));
        var (address, port) = Master(environment, worldSize, firstNode);
        return new DistributedEnvironment(rank, worldSize, localRank, Math.Max(localWorldSize, localRank + 1), address, port, DistributedLauncherKind.Slurm);
    }

    private static (string Address, int Port) Master(Func<string, string?> environment, int worldSize, string? fallbackHost)
    {
        string? address = environment(MasterAddressVariable);
        if (string.IsNullOrWhiteSpace(address))
        {
            address = fallbackHost;
        }

        if (string.IsNullOrWhiteSpace(address))
        {
            if (worldSize > 1)
            {
                throw new DistributedException($"{MasterAddressVariable} is not set: the ranks need the address of rank 0's host to meet");
            }

            address = "127.0.0.1";
        }

        int port = Optional(environment, MasterPortVariable, DefaultMasterPort, min: 1);
        if (port > 65535)
        {
            throw new DistributedException($"{MasterPortVariable}={port} is not a TCP port");
        }

        return (address.Trim(), port);
    }

    /// <summary>"4" or Slurm's compressed "4(x2),2" (the first node's count).</summary>
    internal static int? TasksPerNode(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var match = LeadingNumber().Match(text);
        return match.Success ? int.Parse(match.Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The first host of a Slurm node list: "gpu[03-05,07],cpu1" gives "gpu03".</summary>
    internal static string? FirstHost(string? nodeList)
    {
        if (string.IsNullOrWhiteSpace(nodeList))
        {
            return null;
        }

        var match = FirstHostPattern().Match(nodeList.Trim());
        if (!match.Success)
        {
            return null;
        }

        return match.Groups["prefix"].Value + match.Groups["first"].Value;
    }

    private static int Required(Func<string, string?> environment, string name, int min)
    {
        string? text = environment(name);
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new DistributedException($"{name} is not set (the other distributed variables are)");
        }

        return Parse(name, text, min);
    }

    private static int Optional(Func<string, string?> environment, string name, int fallback, int min)
    {
        string? text = environment(name);
        return string.IsNullOrWhiteSpace(text) ? fallback : Parse(name, text, min);
    }

    private static int Parse(string name, string text, int min)
    {
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min)
        {
            throw new DistributedException($"{name}={text} is not a whole number >= {min}");
        }

        return value;
    }

    [GeneratedRegex(@"^\d+")]
    private static partial Regex LeadingNumber();

    [GeneratedRegex(@"^(?<prefix>[^,\[]+)(\[(?<first>[^\]\-,]+))?")]
    private static partial Regex FirstHostPattern();
}
