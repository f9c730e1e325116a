using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SharpTune.Distributed.Store;

/// <summary>
/// The rendezvous store rank 0 hosts (in the spirit of torch's TCPStore, with its own protocol, see
/// <see cref="StoreOp"/>): a key-value map that every rank reaches over TCP, used to share the NCCL unique id,
/// for barriers and for failure signalling. A rank that fails sets <c>error/RANK</c>; a rank whose connection
/// drops without a goodbye gets that key set by the server. From then on every blocking request of every rank
/// ends with <see cref="StoreStatus.PeerFailed"/> naming the first failed rank, so nobody waits on a dead peer.
/// </summary>
public sealed class TcpStoreServer : IAsyncDisposable, IDisposable
{
    /// <summary>Keys under this prefix are failure reports: <c>error/RANK</c> = one line saying what happened.</summary>
    public const string ErrorPrefix = "error/";

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _liveConnectionsByRank = [];
    private readonly List<Task> _connections = [];
    private TaskCompletionSource _changed = NewSignal();
    private (int Rank, string Message)? _firstError;
    private Task? _acceptLoop;

    private TcpStoreServer(TcpListener listener)
    {
        _listener = listener;
    }

    /// <summary>The port the server listens on (the one asked for, or the one the system chose for port 0).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The first failure reported or detected, if any.</summary>
    public (int Rank, string Message)? FirstError
    {
        get
        {
            lock (_gate)
            {
                return _firstError;
            }
        }
    }

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/> (0: any free port) and serves until disposed.</summary>
    public static TcpStoreServer Start(IPAddress address, int port)
    {
        var listener = new TcpListener(address, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            listener.Start(backlog: 512);
        }
        catch (SocketException e)
        {
            throw new DistributedException($"the rendezvous store cannot listen on {address}:{port}: {e.Message} (is MASTER_PORT in use?)", e);
        }

        var server = new TcpStoreServer(listener);
        server._acceptLoop = Task.Run(server.AcceptLoopAsync);
        return server;
    }

    /// <summary>The number of ranks with a live (non-observer) connection.</summary>
    public int ConnectedRankCount
    {
        get
        {
            lock (_gate)
            {
                return _liveConnectionsByRank.Count;
            }
        }
    }

    /// <summary>Waits until no rank other than <paramref name="exceptRank"/> is connected, or the timeout passes.</summary>
    public bool WaitForOthersToLeave(int exceptRank, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_liveConnectionsByRank.Keys.All(r => r == exceptRank))
                {
                    return true;
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            changed.Wait(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        _listener.Stop();
        Task[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        try
        {
            await Task.WhenAll(connections.Append(_acceptLoop ?? Task.CompletedTask)).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or SocketException or IOException)
        {
            // Connections end on their own once their sockets close; nothing to wait for.
        }

        _stop.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            client.NoDelay = true;
            TcpKeepAlive.Enable(client.Client);
            lock (_gate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(Task.Run(() => ServeAsync(client)));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        int rank = -1;
        bool observer = false;
        bool saidBye = false;
        try
        {
            var stream = client.GetStream();
            while (!_stop.IsCancellationRequested)
            {
                var frame = await StoreWire.ReadFrameAsync(stream, _stop.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    break;
                }

                var reader = new BinaryReader(new MemoryStream(frame));
                var op = (StoreOp)reader.ReadByte();
                byte[] reply;
                switch (op)
                {
                    case StoreOp.Hello:
                        rank = reader.ReadInt32();
                        observer = reader.ReadBoolean();
                        if (!observer)
                        {
                            lock (_gate)
                            {
                                _liveConnectionsByRank[rank] = _liveConnectionsByRank.GetValueOrDefault(rank) + 1;
                                SignalLocked();
                            }
                        }

                        reply = Reply(StoreStatus.Ok);
                        break;
                    case StoreOp.Bye:
                        saidBye = true;
                        reply = Reply(StoreStatus.Ok);
                        break;
                    default:
                        reply = await HandleAsync(op, reader).ConfigureAwait(false);
                        break;
                }

                await StoreWire.WriteFrameAsync(stream, reply, _stop.Token).ConfigureAwait(false);
                if (saidBye)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException
            or InvalidDataException or EndOfStreamException)
        {
            // The peer went away (or the server is stopping); handled below.
        }
        finally
        {
            client.Dispose();
            if (rank >= 0 && !observer)
            {
                lock (_gate)
                {
                    int left = _liveConnectionsByRank.GetValueOrDefault(rank) - 1;
                    if (left <= 0)
                    {
                        _liveConnectionsByRank.Remove(rank);
                    }
                    else
                    {
                        _liveConnectionsByRank[rank] = left;
                    }

                    if (!saidBye && !_stop.IsCancellationRequested)
                    {
                        ReportFailureLocked(rank, "its connection to the rendezvous store dropped without a goodbye (the process died or was killed, or the network failed)");
                    }

                    SignalLocked();
                }
            }
        }
    }

    private async Task<byte[]> HandleAsync(StoreOp op, BinaryReader reader)
    {
        switch (op)
        {
            case StoreOp.Set:
            {
                string key = StoreWire.ReadString(reader);
                byte[] value = StoreWire.ReadBytes(reader);
                lock (_gate)
                {
                    _values[key] = value;
                    if (key.StartsWith(ErrorPrefix, StringComparison.Ordinal) && int.TryParse(key.AsSpan(ErrorPrefix.Length), out int failed))
                    {
                        _firstError ??= (failed, Encoding.UTF8.GetString(value));
                    }

                    SignalLocked();
                }

                return Reply(StoreStatus.Ok);
            }

            case StoreOp.TryGet:
            {
                string key = StoreWire.ReadString(reader);
                lock (_gate)
                {
                    return _values.TryGetValue(key, out var value) ? Reply(StoreStatus.Ok, value) : Reply(StoreStatus.Missing);
                }
            }

            case StoreOp.Get:
            {
                string key = StoreWire.ReadString(reader);
                int timeoutMs = reader.ReadInt32();
                return await WaitUntilAsync(timeoutMs, failFast: true, () => _values.TryGetValue(key, out var v) ? Reply(StoreStatus.Ok, v) : null)
                    .ConfigureAwait(false);
            }

            case StoreOp.Wait:
            {
                int count = reader.ReadInt32();
                var keys = new string[count];
                for (int i = 0; i < count; i++)
                {
                    keys[i] = StoreWire.ReadString(reader);
                }

                int timeoutMs = reader.ReadInt32();
                return await WaitUntilAsync(timeoutMs, failFast: true, () => keys.All(_values.ContainsKey) ? Reply(StoreStatus.Ok) : null)
                    .ConfigureAwait(false);
            }

            case StoreOp.WaitPrefix:
            {
                string prefix = StoreWire.ReadString(reader);
                int timeoutMs = reader.ReadInt32();
                return await WaitUntilAsync(timeoutMs, failFast: false, () =>
                {
                    foreach (var (key, value) in _values)
                    {
                        if (key.StartsWith(prefix, StringComparison.Ordinal))
                        {
                            return Reply(StoreStatus.Ok, Encoding.UTF8.GetBytes(key), value);
                        }
                    }

                    return null;
                }).ConfigureAwait(false);
            }

            case StoreOp.Add:
            {
                string key = StoreWire.ReadString(reader);
                long delta = reader.ReadInt64();
                lock (_gate)
                {
                    long current = _values.TryGetValue(key, out var bytes) && bytes.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(bytes) : 0;
                    var updated = new byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(updated, current + delta);
                    _values[key] = updated;
                    SignalLocked();
                    return Reply(StoreStatus.Ok, updated);
                }
            }

            case StoreOp.Delete:
            {
                string key = StoreWire.ReadString(reader);
                lock (_gate)
                {
                    bool removed = _values.Remove(key);
                    SignalLocked();
                    return Reply(removed ? StoreStatus.Ok : StoreStatus.Missing);
                }
            }

            default:
                return Reply(StoreStatus.Error, Encoding.UTF8.GetBytes($"unknown request {(byte)op}"));
        }
    }

    /// <summary>
    /// Re-checks <paramref name="check"/> (under the lock) after every change until it yields a reply or time runs
    /// out. With <paramref name="failFast"/>, a reported failure ends the wait first. Negative timeout: no limit.
    /// </summary>
    private async Task<byte[]> WaitUntilAsync(int timeoutMs, bool failFast, Func<byte[]?> check)
    {
        var deadline = timeoutMs < 0 ? DateTime.MaxValue : DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (failFast && _firstError is { } error)
                {
                    return PeerFailedReply(error.Rank, error.Message);
                }

                var reply = check();
                if (reply is not null)
                {
                    return reply;
                }

                changed = _changed.Task;
            }

            var left = deadline == DateTime.MaxValue ? Timeout.InfiniteTimeSpan : deadline - DateTime.UtcNow;
            if (left != Timeout.InfiniteTimeSpan && left <= TimeSpan.Zero)
            {
                return Reply(StoreStatus.Timeout);
            }

            await Task.WhenAny(changed, Task.Delay(left, _stop.Token)).ConfigureAwait(false);
            _stop.Token.ThrowIfCancellationRequested();
        }
    }

    private void ReportFailureLocked(int rank, string message)
    {
        string key = ErrorPrefix + rank;
        if (!_values.ContainsKey(key))
        {
            _values[key] = Encoding.UTF8.GetBytes(message);
            _firstError ??= (rank, message);
        }
    }

    private void SignalLocked()
    {
        var old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static byte[] PeerFailedReply(int rank, string message)
    {
        var buffer = new MemoryStream();
        var writer = new BinaryWriter(buffer);
        writer.Write((byte)StoreStatus.PeerFailed);
        writer.Write(rank);
        StoreWire.WriteString(writer, message);
        return buffer.ToArray();
    }

    private static byte[] Reply(StoreStatus status, params byte[][] fields)
    {
        var buffer = new MemoryStream();
        var writer = new BinaryWriter(buffer);
        writer.Write((byte)status);
        foreach (var field in fields)
        {
            StoreWire.WriteBytes(writer, field);
        }

        return buffer.ToArray();
    }
}
