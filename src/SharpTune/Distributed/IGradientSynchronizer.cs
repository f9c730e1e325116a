using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// What a trainer needs for data parallelism, the same whether it runs alone or as one of many ranks
/// (<see cref="SingleProcessSynchronizer"/> makes every call a no-op, so a trainer can always call it):
/// <code>
/// sync.BroadcastParameters(trainable);               // once, after building the model: every rank starts equal
/// foreach step: forward/backward on this rank's shard (DistributedShardSampler), then
///     sync.AllReduceGradients(trainable);            // average the gradients over ranks, then optimizer.step()
/// if (sync.IsMain) save checkpoints, logs, artifacts // only rank 0 writes
/// </code>
/// To overlap communication with the backward pass, use <see cref="CreateReducer"/> and mark parameters ready as
/// their gradients become final; <see cref="AllReduceGradients(IEnumerable{torch.Tensor})"/> is the same thing with
/// everything marked at the end.
/// </summary>
public interface IGradientSynchronizer : IDisposable
{
    int Rank { get; }

    int WorldSize { get; }

    int LocalRank { get; }

    /// <summary>Rank 0: the one process that writes checkpoints, logs and artifacts.</summary>
    bool IsMain { get; }

    DistributedEnvironment Environment { get; }

    /// <summary>The device this rank computes on (cuda:N for NCCL, cpu otherwise).</summary>
    torch.Device Device { get; }

    /// <summary>Copies rank 0's values of <paramref name="parameters"/> into every rank's, in place.</summary>
    void BroadcastParameters(IEnumerable<torch.Tensor> parameters);

    /// <summary>
    /// Replaces each parameter's gradient by the mean over ranks (a missing gradient counts as zeros), in buckets.
    /// When this returns, the optimizer (queued afterwards) sees the averaged gradients.
    /// </summary>
    void AllReduceGradients(IEnumerable<torch.Tensor> parameters);

    /// <summary>As above, but multiplies the sum over ranks by <paramref name="scale"/> instead of 1/WorldSize
    /// (e.g. 1 when each rank already divided its loss by the global token count).</summary>
    void AllReduceGradients(IEnumerable<torch.Tensor> parameters, double scale);

    /// <summary>A reducer over a fixed parameter list, for overlapping: mark parameters ready, then finish.</summary>
    IGradientReducer CreateReducer(IReadOnlyList<torch.Tensor> parameters, double? scale = null, long bucketBytes = GradientBucketPlan.DefaultBucketBytes);

    /// <summary>The sum of <paramref name="value"/> over all ranks (e.g. token counts for a global loss mean).</summary>
    double SumOverRanks(double value);

    /// <summary>Blocks until every rank gets here.</summary>
    void Barrier();

    /// <summary>Tells the other ranks this one failed (they stop with a message naming it); best effort.</summary>
    void ReportFailure(string message);
}
