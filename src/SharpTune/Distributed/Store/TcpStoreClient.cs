using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace SharpTune.Distributed.Store;

/// <summary>
/// One rank's connection to the <see cref="TcpStoreServer"/>. Calls are synchronous and may come from several
/// threads (each request and its reply hold the connection). Blocking calls end with
/// <see cref="DistributedTimeoutException"/> when time runs out and with <see cref="PeerFailedException"/> as soon as
/// any rank has failed; a lost connection is a <see cref="DistributedException"/> naming the store.
/// </summary>
public sealed class TcpStoreClient : IDisposable
{
    private static readonly TimeSpan ReplySlack = TimeSpan.FromSeconds(30);

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly Lock _gate = new();
    private volatile bool _disposed;

    private TcpStoreClient(TcpClient client, string endpoint, int rank)
    {
        _client = client;
        _stream = client.GetStream();
        Endpoint = endpoint;
        Rank = rank;
    }

    /// <summary>host:port of the store.</summary>
    public string Endpoint { get; }

    /// <summary>The rank this connection speaks for.</summary>
    public int Rank { get; }

    /// <summary>
    /// Connects to the store at <paramref name="host"/>:<paramref name="port"/>, retrying while it is not up yet
    /// (rank 0 may start later than the others), and says which rank this is. An observer connection (a failure
    /// monitor) may close without a goodbye; a rank's main connection may not: that is reported as its failure.
    /// </summary>
    public static TcpStoreClient Connect(string host, int port, int rank, TimeSpan timeout, bool observer = false)
    {
        var deadline = DateTime.UtcNow + timeout;
        string endpoint = $"{host}:{port}";
        SocketException? last = null;
        while (true)
        {
            var client = new TcpClient { NoDelay = true };
            try
            {
                var left = deadline - DateTime.UtcNow;
                using var attempt = new CancellationTokenSource(left > TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
                client.ConnectAsync(host, port, attempt.Token).AsTask().GetAwaiter().GetResult();
                TcpKeepAlive.Enable(client.Client);
                var connected = new TcpStoreClient(client, endpoint, rank);
                var hello = Request(StoreOp.Hello, w =>
                {
                    w.Write(rank);
                    w.Write(observer);
                });
                connected.Exchange(hello, TimeSpan.FromSeconds(30));
                return connected;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                client.Dispose();
                last = e as SocketException ?? last;
                if (DateTime.UtcNow >= deadline)
                {
                    throw new DistributedTimeoutException(
                        $"rank {rank} could not reach the rendezvous store at {endpoint} within {timeout.TotalSeconds:0} s" +
                        (last is null ? "" : $" ({last.Message})") + "; check MASTER_ADDR/MASTER_PORT and that rank 0 started");
                }

                Thread.Sleep(100);
            }
        }
    }

    public void Set(string key, byte[] value) =>
        Exchange(Request(StoreOp.Set, w =>
        {
            StoreWire.WriteString(w, key);
            StoreWire.WriteBytes(w, value);
        }), ReplySlack);

    public void Set(string key, string value) => Set(key, Encoding.UTF8.GetBytes(value));

    /// <summary>Waits for <paramref name="key"/> to be set and returns its value.</summary>
    public byte[] Get(string key, TimeSpan timeout)
    {
        var reply = Exchange(Request(StoreOp.Get, w =>
        {
            StoreWire.WriteString(w, key);
            w.Write(Milliseconds(timeout));
        }), WithSlack(timeout));
        return ExpectOk(reply, $"key '{key}' was not set within {timeout.TotalSeconds:0.#} s").ReadValue();
    }

    public string GetString(string key, TimeSpan timeout) => Encoding.UTF8.GetString(Get(key, timeout));

    public bool TryGet(string key, out byte[] value)
    {
        var reply = Exchange(Request(StoreOp.TryGet, w => StoreWire.WriteString(w, key)), ReplySlack);
        if (reply.Status == StoreStatus.Missing)
        {
            value = [];
            return false;
        }

        value = ExpectOk(reply, "").ReadValue();
        return true;
    }

    /// <summary>Adds <paramref name="delta"/> to the counter at <paramref name="key"/> (0 if unset) and returns the new value.</summary>
    public long Add(string key, long delta)
    {
        var reply = Exchange(Request(StoreOp.Add, w =>
        {
            StoreWire.WriteString(w, key);
            w.Write(delta);
        }), ReplySlack);
        return BinaryPrimitives.ReadInt64LittleEndian(ExpectOk(reply, "").ReadValue());
    }

    /// <summary>Waits until every key in <paramref name="keys"/> is set.</summary>
    public void Wait(IReadOnlyCollection<string> keys, TimeSpan timeout)
    {
        var reply = Exchange(Request(StoreOp.Wait, w =>
        {
            w.Write(keys.Count);
            foreach (string key in keys)
            {
                StoreWire.WriteString(w, key);
            }

            w.Write(Milliseconds(timeout));
        }), WithSlack(timeout));
        ExpectOk(reply, $"keys {string.Join(", ", keys.Take(4))}{(keys.Count > 4 ? ", ..." : "")} were not all set within {timeout.TotalSeconds:0.#} s");
    }

    /// <summary>Waits for any key starting with <paramref name="prefix"/>; null when none appeared in time.</summary>
    public (string Key, byte[] Value)? WaitPrefix(string prefix, TimeSpan timeout)
    {
        var reply = Exchange(Request(StoreOp.WaitPrefix, w =>
        {
            StoreWire.WriteString(w, prefix);
            w.Write(Milliseconds(timeout));
        }), WithSlack(timeout));
        if (reply.Status == StoreStatus.Timeout)
        {
            return null;
        }

        var ok = ExpectOk(reply, "");
        string key = Encoding.UTF8.GetString(ok.ReadValue());
        return (key, ok.ReadValue());
    }

    public bool Delete(string key)
    {
        var reply = Exchange(Request(StoreOp.Delete, w => StoreWire.WriteString(w, key)), ReplySlack);
        return reply.Status == StoreStatus.Ok;
    }

    /// <summary>
    /// Blocks until <paramref name="worldSize"/> ranks have called this with the same <paramref name="name"/>
    /// (each name is used once). The last rank to arrive sets the release key.
    /// </summary>
    public void Barrier(string name, int worldSize, TimeSpan timeout)
    {
        long arrived = Add($"barrier/{name}/count", 1);
        string release = $"barrier/{name}/release";
        if (arrived == worldSize)
        {
            Set(release, [1]);
        }

        try
        {
            Wait([release], timeout);
        }
        catch (DistributedTimeoutException)
        {
            TryGet($"barrier/{name}/count", out var count);
            long seen = count.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(count) : -1;
            throw new DistributedTimeoutException($"barrier '{name}': {seen} of {worldSize} ranks arrived within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Reports this rank's failure to every other rank (best effort: the store may be gone too).</summary>
    public bool TryReportFailure(string message)
    {
        try
        {
            Set(TcpStoreServer.ErrorPrefix + Rank, message);
            return true;
        }
        catch (DistributedException)
        {
            return false;
        }
    }

    /// <summary>Says goodbye (so closing is not taken for a failure) and closes the connection.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                _client.ReceiveTimeout = 2000;
                StoreWire.WriteFrame(_stream, Request(StoreOp.Bye, _ => { }));
                StoreWire.ReadFrame(_stream);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException)
            {
                // The store is already gone; nothing to say goodbye to.
            }

            _client.Dispose();
        }
    }

    /// <summary>Closes the connection without a goodbye, as a crash would (for tests of failure detection).</summary>
    /// <remarks>Takes no lock: it must interrupt a request blocked in another thread.</remarks>
    internal void Abandon()
    {
        _disposed = true;
        try
        {
            _client.Client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        _client.Client.Close(0);
    }

    private static TimeSpan WithSlack(TimeSpan timeout) => timeout == Timeout.InfiniteTimeSpan ? timeout : timeout + ReplySlack;

    private static int Milliseconds(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);

    private static byte[] Request(StoreOp op, Action<BinaryWriter> body)
    {
        var buffer = new MemoryStream();
        var writer = new BinaryWriter(buffer);
        writer.Write((byte)op);
        body(writer);
        return buffer.ToArray();
    }

    private StoreReply Exchange(byte[] request, TimeSpan replyTimeout)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                _client.ReceiveTimeout = replyTimeout == Timeout.InfiniteTimeSpan || replyTimeout.TotalMilliseconds >= int.MaxValue
                    ? 0
                    : (int)replyTimeout.TotalMilliseconds;
                StoreWire.WriteFrame(_stream, request);
                var frame = StoreWire.ReadFrame(_stream) ?? throw new EndOfStreamException("the store closed the connection");
                return new StoreReply(frame);
            }
            catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or InvalidDataException)
            {
                throw new DistributedException(
                    $"rank {Rank} lost its connection to the rendezvous store at {Endpoint} (rank 0 exited, was killed, or the network failed): {e.Message}", e,
                    DistributedException.PeerFailedExitCode);
            }
        }
    }

    private StoreReply ExpectOk(StoreReply reply, string timeoutMessage)
    {
        switch (reply.Status)
        {
            case StoreStatus.Ok:
                return reply;
            case StoreStatus.Timeout:
                throw new DistributedTimeoutException($"rank {Rank}: {timeoutMessage} (store {Endpoint})");
            case StoreStatus.PeerFailed:
                throw new PeerFailedException(reply.ReadInt32(), reply.ReadString());
            default:
                throw new DistributedException($"the rendezvous store at {Endpoint} refused a request: {reply.ReadString()}");
        }
    }

    /// <summary>A reply frame: a status byte, then its fields in order.</summary>
    private sealed class StoreReply(byte[] frame)
    {
        private readonly BinaryReader _reader = new(new MemoryStream(frame, 1, frame.Length - 1));

        public StoreStatus Status { get; } = (StoreStatus)frame[0];

        public byte[] ReadValue() => StoreWire.ReadBytes(_reader);

        public int ReadInt32() => _reader.ReadInt32();

        public string ReadString() => StoreWire.ReadString(_reader);
    }
}
