using System.Net;
using System.Text;
using SharpTune.Distributed.Store;

namespace SharpTune.Distributed;

/// <summary>
/// This rank's membership of a job: the store (hosted here on rank 0, reached over TCP by all), the failure
/// monitor, and numbered barriers. <see cref="Join"/> returns once every rank has joined. Dispose at the end: the
/// ranks meet at a last barrier so rank 0 keeps the store up until the others are done with it.
/// </summary>
public sealed class RendezvousSession : IDisposable
{
    private readonly TcpStoreServer? _server;
    private readonly RendezvousOptions _options;
    private int _barriers;
    private bool _disposed;

    private RendezvousSession(DistributedEnvironment environment, RendezvousOptions options, TcpStoreServer? server, TcpStoreClient store, PeerFailureMonitor monitor)
    {
        Environment = environment;
        _options = options;
        _server = server;
        Store = store;
        Monitor = monitor;
    }

    public DistributedEnvironment Environment { get; }

    /// <summary>This rank's connection to the store.</summary>
    public TcpStoreClient Store { get; }

    public PeerFailureMonitor Monitor { get; }

    public static RendezvousSession Join(DistributedEnvironment environment, RendezvousOptions? options = null)
    {
        options ??= new RendezvousOptions();
        TcpStoreServer? server = null;
        TcpStoreClient? store = null;
        try
        {
            if (environment.IsMain)
            {
                server = TcpStoreServer.Start(BindAddress(environment.MasterAddress), environment.MasterPort);
            }

            store = TcpStoreClient.Connect(environment.MasterAddress, environment.MasterPort, environment.Rank, options.JoinTimeout);
            store.Set($"join/{environment.Rank}", $"{System.Environment.MachineName} pid {System.Environment.ProcessId}");
            var keys = Enumerable.Range(0, environment.WorldSize).Select(r => $"join/{r}").ToArray();
            try
            {
                store.Wait(keys, options.JoinTimeout);
            }
            catch (DistributedTimeoutException)
            {
                var missing = keys.Where(k => !store.TryGet(k, out _)).Select(k => k["join/".Length..]).ToArray();
                throw new DistributedTimeoutException(
                    $"rendezvous at {environment.MasterAddress}:{environment.MasterPort}: rank(s) {string.Join(", ", missing)} of {environment.WorldSize} did not join within {options.JoinTimeout.TotalSeconds:0} s");
            }

            var monitor = PeerFailureMonitor.Start(environment.MasterAddress, environment.MasterPort, environment.Rank, options.JoinTimeout, options.ExitGraceAfterPeerFailure);
            return new RendezvousSession(environment, options, server, store, monitor);
        }
        catch
        {
            store?.Dispose();
            server?.Dispose();
            throw;
        }
    }

    /// <summary>Blocks until every rank reaches its barrier of the same number (all ranks call barriers in the same order).</summary>
    public void Barrier(TimeSpan? timeout = null)
    {
        int number = Interlocked.Increment(ref _barriers);
        Store.Barrier(number.ToString(System.Globalization.CultureInfo.InvariantCulture), Environment.WorldSize, timeout ?? _options.BarrierTimeout);
    }

    /// <summary>Tells every other rank that this one failed and why (one line); best effort.</summary>
    public void ReportFailure(string message) => Store.TryReportFailure(message.ReplaceLineEndings(" "));

    /// <summary>Shares <paramref name="value"/> from rank <paramref name="root"/> with every rank (call on all ranks).</summary>
    public byte[] Share(string name, byte[]? value, int root = 0)
    {
        string key = "share/" + name;
        if (Environment.Rank == root)
        {
            Store.Set(key, value ?? throw new ArgumentNullException(nameof(value), $"rank {root} must give the value to share"));
            return value;
        }

        return Store.Get(key, _options.JoinTimeout);
    }

    public string Share(string name, string? value, int root = 0) =>
        Encoding.UTF8.GetString(Share(name, value is null ? null : Encoding.UTF8.GetBytes(value), root));

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Monitor.Dispose();
        bool cleanEnd = Monitor.Failure is null;
        if (cleanEnd)
        {
            try
            {
                Store.Barrier("shutdown", Environment.WorldSize, _options.ShutdownTimeout);
            }
            catch (DistributedException)
            {
                // A peer failed or is late at the very end; leave anyway.
            }
        }
        Store.Dispose();
        if (_server is not null)
        {
            if (cleanEnd)
            {
                _server.WaitForOthersToLeave(Environment.Rank, _options.ShutdownTimeout);
            }
            _server.Dispose();
        }
    }

    private static IPAddress BindAddress(string masterAddress)
    {
        if (masterAddress is "localhost" || (IPAddress.TryParse(masterAddress, out var ip) && IPAddress.IsLoopback(ip)))
        {
            return IPAddress.Loopback;
        }

        return IPAddress.Any;
    }
}
