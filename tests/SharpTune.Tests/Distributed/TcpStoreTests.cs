using System.Diagnostics;
using System.Net;
using System.Text;
using SharpTune.Distributed;
using SharpTune.Distributed.Store;

namespace SharpTune.Tests.Distributed;

public sealed class TcpStoreTests
{
    private static readonly TimeSpan Connect = TimeSpan.FromSeconds(10);

    [Fact]
    public void Set_then_get_returns_the_value_and_overwrites_win()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var client = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, Connect);
        client.Set("a", "one");
        Assert.Equal("one", client.GetString("a", TimeSpan.FromSeconds(1)));
        client.Set("a", [1, 2, 3]);
        Assert.Equal([1, 2, 3], client.Get("a", TimeSpan.FromSeconds(1)));
        Assert.True(client.TryGet("a", out var value));
        Assert.Equal([1, 2, 3], value);
        Assert.False(client.TryGet("missing", out _));
        Assert.True(client.Delete("a"));
        Assert.False(client.Delete("a"));
        client.Set("empty", []);
        Assert.Empty(client.Get("empty", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Get_waits_for_a_key_another_client_sets_later()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var reader = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, Connect);
        using var writer = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, Connect);
        var clock = Stopwatch.StartNew();
        var later = Task.Run(() =>
        {
            Thread.Sleep(300);
            writer.Set("late", "here");
        }, TestContext.Current.CancellationToken);
        Assert.Equal("here", reader.GetString("late", TimeSpan.FromSeconds(10)));
        Assert.InRange(clock.ElapsedMilliseconds, 250, 5000);
        await later;
    }

    [Fact]
    public void Get_and_wait_time_out_with_a_message_naming_the_key()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var client = TcpStoreClient.Connect("127.0.0.1", server.Port, 2, Connect);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedTimeoutException>(() => client.Get("never", TimeSpan.FromMilliseconds(300)));
        Assert.InRange(clock.ElapsedMilliseconds, 250, 5000);
        Assert.Contains("'never'", e.Message);
        Assert.Contains("rank 2", e.Message);
        client.Set("x", "1");
        var wait = Assert.Throws<DistributedTimeoutException>(() => client.Wait(["x", "y"], TimeSpan.FromMilliseconds(200)));
        Assert.Contains("y", wait.Message);
        client.Wait(["x"], TimeSpan.FromMilliseconds(200));
        Assert.Null(client.WaitPrefix("nothing/", TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void Connecting_to_no_server_times_out_naming_the_address()
    {
        int port = SharpTune.Distributed.Launch.LocalLauncher.FreeLoopbackPort();
        var e = Assert.Throws<DistributedTimeoutException>(() => TcpStoreClient.Connect("127.0.0.1", port, 3, TimeSpan.FromMilliseconds(500)));
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("rank 3", e.Message);
    }

    [Fact]
    public async Task A_client_may_connect_before_the_server_starts()
    {
        int port = SharpTune.Distributed.Launch.LocalLauncher.FreeLoopbackPort();
        var connecting = Task.Run(() => TcpStoreClient.Connect("127.0.0.1", port, 1, TimeSpan.FromSeconds(10)), TestContext.Current.CancellationToken);
        Thread.Sleep(300);
        using var server = TcpStoreServer.Start(IPAddress.Loopback, port);
        using var client = await connecting;
        client.Set("k", "v");
        Assert.Equal("v", client.GetString("k", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Many_clients_count_and_meet_at_barriers_concurrently()
    {
        const int clients = 32;
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        var results = new long[clients];
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        // Dedicated threads: the barrier needs all 32 blocked at once, more than the thread pool starts with.
        var threads = Enumerable.Range(0, clients).Select(rank => new Thread(() =>
        {
            try
            {
                RunClient(rank);
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
        long expected = clients * (clients - 1) / 2 + clients * 10L * 1_000_000;
        Assert.All(results, r => Assert.Equal(expected, r));

        void RunClient(int rank)
        {
            using var client = TcpStoreClient.Connect("127.0.0.1", server.Port, rank, Connect);
            for (int i = 0; i < 10; i++)
            {
                client.Add("counter", 1);
            }

            client.Set($"value/{rank}", Encoding.UTF8.GetBytes(rank.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            client.Barrier("first", clients, TimeSpan.FromSeconds(30));
            long sum = 0;
            for (int other = 0; other < clients; other++)
            {
                sum += long.Parse(client.GetString($"value/{other}", TimeSpan.FromSeconds(1)), System.Globalization.CultureInfo.InvariantCulture);
            }

            client.Barrier("second", clients, TimeSpan.FromSeconds(30));
            results[rank] = sum + client.Add("counter", 0) * 1_000_000;
        }
    }

    [Fact]
    public void A_barrier_that_not_everyone_reaches_times_out_saying_how_many_came()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var client = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, Connect);
        var e = Assert.Throws<DistributedTimeoutException>(() => client.Barrier("b", 3, TimeSpan.FromMilliseconds(200)));
        Assert.Equal("barrier 'b': 1 of 3 ranks arrived within 0.2 s", e.Message);
    }

    [Fact]
    public async Task A_reported_failure_ends_every_blocked_wait_naming_the_failed_rank()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var waiting = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, Connect);
        using var failing = TcpStoreClient.Connect("127.0.0.1", server.Port, 2, Connect);
        var blocked = Task.Run(() => Assert.Throws<PeerFailedException>(() => waiting.Barrier("never", 3, TimeSpan.FromSeconds(60))), TestContext.Current.CancellationToken);
        Thread.Sleep(200);
        var clock = Stopwatch.StartNew();
        Assert.True(failing.TryReportFailure("CUDA out of memory"));
        var e = await blocked;
        Assert.True(clock.ElapsedMilliseconds < 2000, $"took {clock.ElapsedMilliseconds} ms");
        Assert.Equal(2, e.FailedRank);
        Assert.Equal("rank 2 failed: CUDA out of memory", e.Message);
        Assert.Equal(DistributedException.PeerFailedExitCode, e.ExitCode);
        Assert.Throws<PeerFailedException>(() => waiting.Get("anything", TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_connection_dropped_without_goodbye_is_reported_as_that_ranks_failure()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var survivor = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, Connect);
        var dying = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, Connect);
        var observer = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, Connect, observer: true);
        observer.Abandon(); // an observer may vanish: not a failure
        Thread.Sleep(100);
        Assert.Null(server.FirstError);

        var blocked = Task.Run(() => Assert.Throws<PeerFailedException>(() => survivor.Get("never", TimeSpan.FromSeconds(60))), TestContext.Current.CancellationToken);
        Thread.Sleep(100);
        dying.Abandon();
        var e = await blocked;
        Assert.Equal(1, e.FailedRank);
        Assert.Contains("dropped without a goodbye", e.Message);
    }

    [Fact]
    public void A_clean_goodbye_is_not_a_failure_and_the_server_sees_ranks_leave()
    {
        using var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        var one = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, Connect);
        var two = TcpStoreClient.Connect("127.0.0.1", server.Port, 2, Connect);
        Assert.Equal(2, server.ConnectedRankCount);
        one.Dispose();
        two.Dispose();
        Assert.True(server.WaitForOthersToLeave(0, TimeSpan.FromSeconds(5)));
        Assert.Null(server.FirstError);
    }

    [Fact]
    public async Task Losing_the_server_is_a_clear_error_on_the_client()
    {
        var server = TcpStoreServer.Start(IPAddress.Loopback, 0);
        using var client = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, Connect);
        var blocked = Task.Run(() => Assert.ThrowsAny<DistributedException>(() => client.Get("never", TimeSpan.FromSeconds(60))), TestContext.Current.CancellationToken);
        Thread.Sleep(100);
        server.Dispose();
        var e = await blocked;
        Assert.Contains("lost its connection to the rendezvous store", e.Message);
    }
}
