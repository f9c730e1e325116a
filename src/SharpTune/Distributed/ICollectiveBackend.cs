using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// The collectives data parallelism needs, on contiguous tensors, in place. Every rank must call the same
/// collectives in the same order with tensors of the same size and type.
/// </summary>
public interface ICollectiveBackend : IDisposable
{
    int Rank { get; }

    int WorldSize { get; }

    /// <summary>A name for logs: "nccl 2.27.3", "store (cpu)".</summary>
    string Name { get; }

    /// <summary>Starts summing <paramref name="tensor"/> over all ranks into every rank's copy.</summary>
    ICollectiveWork AllReduceSum(torch.Tensor tensor);

    /// <summary>Starts copying rank <paramref name="root"/>'s <paramref name="tensor"/> into every rank's.</summary>
    ICollectiveWork Broadcast(torch.Tensor tensor, int root);

    /// <summary>Blocks the host until every started collective has finished (and throws any error they met).</summary>
    void Synchronize();

    /// <summary>Ends pending collectives at once, e.g. because a peer died (may be called from another thread).</summary>
    void Abort();
}
