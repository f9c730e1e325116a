using System.Text;
using SharpTune.Distributed.Store;

namespace SharpTune.Distributed;

/// <summary>
/// Watches the rendezvous store for another rank's failure from a background thread, on its own (observer)
/// connection: the server answers the moment an <c>error/RANK</c> key appears, or the connection drops (rank 0 and
/// its store are gone). Then it runs the registered reactions (for instance aborting the NCCL communicator, which
/// ends collectives stuck waiting on the dead peer) and, if the process has not ended after the grace period, writes
/// one line naming the failed rank to stderr and exits with <see cref="DistributedException.PeerFailedExitCode"/>:
/// a rank blocked inside a CUDA wait cannot be unblocked any other way.
/// </summary>
public sealed class PeerFailureMonitor : IDisposable
{
    private readonly TcpStoreClient _observer;
    private readonly int _rank;
    private readonly TimeSpan? _exitGrace;
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    private readonly List<Action<PeerFailedException>> _reactions = [];
    private volatile bool _stopping;
    private volatile PeerFailedException? _failure;

    private PeerFailureMonitor(TcpStoreClient observer, int rank, TimeSpan? exitGrace)
    {
        _observer = observer;
        _rank = rank;
        _exitGrace = exitGrace;
        _thread = new Thread(Watch) { IsBackground = true, Name = $"sharptune-peer-monitor-{rank}" };
    }

    /// <summary>The first failure of another rank seen, or null.</summary>
    public PeerFailedException? Failure => _failure;

    /// <summary>
    /// Connects an observer to the store and starts watching. <paramref name="exitGrace"/>: how long to leave the
    /// process to stop on its own after a failure before exiting it (null: never exit, only record and react).
    /// </summary>
    public static PeerFailureMonitor Start(string host, int port, int rank, TimeSpan connectTimeout, TimeSpan? exitGrace)
    {
        var observer = TcpStoreClient.Connect(host, port, rank, connectTimeout, observer: true);
        var monitor = new PeerFailureMonitor(observer, rank, exitGrace);
        monitor._thread.Start();
        return monitor;
    }

    /// <summary>Runs <paramref name="reaction"/> (on the monitor's thread) when a peer fails; at once if one already has.</summary>
    public void OnFailure(Action<PeerFailedException> reaction)
    {
        PeerFailedException? already;
        lock (_gate)
        {
            _reactions.Add(reaction);
            already = _failure;
        }

        if (already is not null)
        {
            reaction(already);
        }
    }

    /// <summary>Throws the recorded failure, if any: call between steps to stop cleanly.</summary>
    public void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw new PeerFailedException(failure.FailedRank, failure.Reason);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _observer.Abandon();
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    private void Watch()
    {
        PeerFailedException failure;
        try
        {
            while (true)
            {
                var hit = _observer.WaitPrefix(TcpStoreServer.ErrorPrefix, Timeout.InfiniteTimeSpan);
                if (_stopping || hit is null)
                {
                    return;
                }

                int failedRank = int.TryParse(hit.Value.Key.AsSpan(TcpStoreServer.ErrorPrefix.Length), out int r) ? r : -1;
                if (failedRank == _rank)
                {
                    return; // this rank reported its own failure and is on its way out
                }

                failure = new PeerFailedException(failedRank, Encoding.UTF8.GetString(hit.Value.Value));
                break;
            }
        }
        catch (Exception e) when (e is DistributedException or ObjectDisposedException)
        {
            if (_stopping)
            {
                return;
            }

            failure = new PeerFailedException(0, $"the rendezvous store on rank 0 is gone (rank 0 exited or was killed): {e.Message}");
        }

        Action<PeerFailedException>[] reactions;
        lock (_gate)
        {
            _failure = failure;
            reactions = [.. _reactions];
        }

        foreach (var reaction in reactions)
        {
            try
            {
                reaction(failure);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"warning: rank {_rank}: reacting to a peer failure failed: {e.Message}");
            }
        }

        if (_exitGrace is { } grace)
        {
            Thread.Sleep(grace);
            if (!_stopping)
            {
                Console.Error.WriteLine($"error: {failure.Message}; rank {_rank} stops");
                Console.Error.Flush();
                Environment.Exit(DistributedException.PeerFailedExitCode);
            }
        }
    }
}
