using System.Globalization;
using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// Collectives on CPU tensors through the rendezvous store: slow (every byte goes through rank 0's store), but
/// exact and needing no GPU, for tests and for debugging multi-process code on a laptop. Sums add the ranks'
/// tensors in rank order, so every rank computes bit-identical results. Work completes before the call returns.
/// </summary>
public sealed class StoreCollectives(RendezvousSession session) : ICollectiveBackend
{
    private long _sequence;

    public int Rank => session.Environment.Rank;

    public int WorldSize => session.Environment.WorldSize;

    public string Name => "store (cpu)";

    public ICollectiveWork AllReduceSum(torch.Tensor tensor)
    {
        string key = NextKey("sum");
        Check(tensor);
        session.Store.Set($"{key}/{Rank}", tensor.bytes.ToArray());
        using var scope = torch.NewDisposeScope();
        var total = torch.zeros_like(tensor);
        for (int rank = 0; rank < WorldSize; rank++)
        {
            byte[] bytes = rank == Rank ? tensor.bytes.ToArray() : session.Store.Get($"{key}/{rank}", TimeSpan.FromMinutes(10));
            var part = torch.empty_like(tensor);
            part.bytes = bytes;
            total.add_(part);
        }

        tensor.copy_(total);
        session.Store.Barrier(key, WorldSize, TimeSpan.FromMinutes(10));
        session.Store.Delete($"{key}/{Rank}");
        return Done.Instance;
    }

    public ICollectiveWork Broadcast(torch.Tensor tensor, int root)
    {
        string key = NextKey("broadcast");
        Check(tensor);
        if (Rank == root)
        {
            session.Store.Set(key, tensor.bytes.ToArray());
        }
        else
        {
            tensor.bytes = session.Store.Get(key, TimeSpan.FromMinutes(10));
        }

        return Done.Instance;
    }

    public void Synchronize()
    {
    }

    public void Abort()
    {
    }

    public void Dispose()
    {
    }

    private static void Check(torch.Tensor tensor)
    {
        if (tensor.device.type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new ArgumentException("the store backend takes contiguous CPU tensors", nameof(tensor));
        }
    }

    private string NextKey(string what) => $"collective/{what}/{Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture)}";

    private sealed class Done : ICollectiveWork
    {
        public static readonly Done Instance = new();

        public void Wait()
        {
        }
    }
}
