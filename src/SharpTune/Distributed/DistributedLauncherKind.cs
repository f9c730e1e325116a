namespace SharpTune.Distributed;

/// <summary>Who started this process and set its rank (read from the environment).</summary>
public enum DistributedLauncherKind
{
    /// <summary>Nobody: a plain single process (world size 1).</summary>
    None,

    /// <summary><c>sharptune launch</c> (<see cref="Launch.LocalLauncher"/>).</summary>
    SharpTune,

    /// <summary>torchrun or another launcher that sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.</summary>
    Torchrun,

    /// <summary>Kubernetes (e.g. a PyTorchJob): the torchrun variables inside a pod.</summary>
    Kubernetes,

    /// <summary>Slurm's srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (and MASTER_ADDR or the job's first node).</summary>
    Slurm,
}
