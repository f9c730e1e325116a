namespace SharpTune.Distributed.Nccl;

/// <summary>ncclRedOp_t (nccl.h); Avg needs NCCL 2.10 or later.</summary>
public enum NcclReduceOp
{
    Sum = 0,
    Prod = 1,
    Max = 2,
    Min = 3,
    Avg = 4,
}
