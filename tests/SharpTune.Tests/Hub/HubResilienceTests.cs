using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

public sealed class HubResilienceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static void AssertNothingHalfWritten(string cacheRoot)
    {
        Assert.Empty(Directory.GetFiles(cacheRoot, "*.incomplete", SearchOption.AllDirectories));
        foreach (string link in Directory.GetFiles(cacheRoot, "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).LinkTarget is not null))
        {
            Assert.True(HubRepoCache.ResolvesToFile(link), $"{link} points to a missing blob");
        }
    }

    [Fact]
    public async Task A_connection_dropped_mid_file_is_resumed_with_range_and_the_sha256_matches()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        server.Faults.DropConnection("/cdn/", afterBytes: 70_000, times: 2);
        using var temp = new TempFolder();
        var log = new List<string>();
        using var client = new HubClient(server.Options(temp.Path, log: log.Add));

        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var ranges = server.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range).ToList();
        Assert.Equal([null, "bytes=70000-", "bytes=140000-"], ranges);
        Assert.Contains(log, l => l.Contains("connection dropped after byte 70000", StringComparison.Ordinal));
        AssertNothingHalfWritten(temp.Path);
    }

    [Fact]
    public async Task A_stalled_transfer_times_out_and_resumes()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        server.Faults.Stall("/cdn/", afterBytes: 100_000, stall: TimeSpan.FromSeconds(5));
        using var temp = new TempFolder();
        var log = new List<string>();
        using var client = new HubClient(server.Options(temp.Path, log: log.Add) with { ReadTimeout = TimeSpan.FromMilliseconds(400) });

        string path = await client.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", cancellationToken: Ct);

        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(path));
        Assert.Contains(log, l => l.Contains("no data for 0.4 s after byte 100000", StringComparison.Ordinal));
        Assert.Equal([null, "bytes=100000-"], server.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range));
    }

    [Fact]
    public async Task A_download_interrupted_in_an_earlier_run_resumes_from_the_incomplete_blob()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        var cache = new HubRepoCache(temp.Path, HubTestRepos.ModelId, RepoType.Model);
        Directory.CreateDirectory(cache.BlobsDirectory);
        File.WriteAllBytes(cache.IncompletePath(Sha256(files["model.safetensors"])), files["model.safetensors"][..123_456]);
        using var client = new HubClient(server.Options(temp.Path));

        string path = await client.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", cancellationToken: Ct);

        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(path));
        Assert.Equal("bytes=123456-", Assert.Single(server.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range);
        AssertNothingHalfWritten(temp.Path);
    }

    [Fact]
    public async Task Rate_limits_are_retried_after_the_retry_after_seconds()
    {
        await using var server = await HubProtocolServer.StartAsync();
        HubTestRepos.Model(server.Store);
        server.Faults.FailNext(1, 429, retryAfter: "1", pathContains: "/tree/");
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var clock = Stopwatch.StartNew();
        var files = await client.ListFilesAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {clock.Elapsed}");
        Assert.Equal(4, files.Count);
        Assert.Equal(2, server.Requests.Count(r => r.Path.Contains("/tree/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Retry_after_as_an_http_date_is_honoured()
    {
        await using var server = await HubProtocolServer.StartAsync();
        HubTestRepos.Model(server.Store);
        var until = DateTimeOffset.UtcNow.AddSeconds(2);
        server.Faults.FailNext(1, 503, retryAfter: until.ToString("r", CultureInfo.InvariantCulture), pathContains: "/api/models/");
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var info = await client.GetRepoInfoAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        Assert.True(DateTimeOffset.UtcNow >= until.AddSeconds(-1).AddMilliseconds(-50), "did not wait for the Retry-After date");
        Assert.Equal(40, info.Sha.Length);
    }

    [Fact]
    public void Retry_after_values_parse_as_seconds_or_http_dates()
    {
        var now = new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);
        Assert.True(RetryAfterHeader.TryParse("120", now, out var seconds));
        Assert.Equal(TimeSpan.FromSeconds(120), seconds);
        Assert.True(RetryAfterHeader.TryParse("Sat, 28 Nov 2026 10:00:30 GMT", now, out var date));
        Assert.Equal(TimeSpan.FromSeconds(30), date);
        Assert.True(RetryAfterHeader.TryParse("Sat, 28 Nov 2026 09:00:00 GMT", now, out var past));
        Assert.Equal(TimeSpan.Zero, past);
        Assert.False(RetryAfterHeader.TryParse("soon", now, out _));
        Assert.False(RetryAfterHeader.TryParse(null, now, out _));
    }

    [Fact]
    public async Task A_burst_of_server_errors_is_retried_and_a_persistent_one_fails_in_one_line()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        server.Faults.FailNext(3, 500, pathContains: "/cdn/");
        server.Faults.FailNext(2, 502, pathContains: "/resolve/");
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));

        server.Faults.FailNext(100, 500, pathContains: "/api/models/");
        var error = await Assert.ThrowsAsync<HubUnreachableException>(() => client.GetRepoInfoAsync(HubTestRepos.ModelId, revision: "main", cancellationToken: Ct));
        Assert.Matches(@"^GET http://127\.0\.0\.1:\d+/api/models/test-org/tiny-llama/revision/main failed after 5 attempts: .*HTTP 500", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_file_of_the_wrong_size_is_rejected_and_nothing_is_linked()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        string sha = Sha256(files["model.safetensors"]);
        server.Store.TamperedLfs[sha] = files["model.safetensors"][..250_000];
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct));

        Assert.Contains("model.safetensors: the server sends 250000 bytes but the file should have 300000", error.Message);
        var cache = new HubRepoCache(temp.Path, HubTestRepos.ModelId, RepoType.Model);
        Assert.False(File.Exists(cache.BlobPath(sha)));
        Assert.False(cache.HasSnapshotFile(commit, "model.safetensors"));
        Assert.False(File.Exists(cache.SnapshotPath(commit, "model.safetensors")));
        AssertNothingHalfWritten(temp.Path);
    }

    [Fact]
    public async Task A_file_with_the_wrong_sha256_is_rejected_and_nothing_is_linked()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        string sha = Sha256(files["model.safetensors"]);
        var corrupt = (byte[])files["model.safetensors"].Clone();
        corrupt[200_000] ^= 0xFF;
        server.Store.TamperedLfs[sha] = corrupt;
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", cancellationToken: Ct));

        Assert.Contains($"sha256 mismatch (expected {sha}, got {Sha256(corrupt)})", error.Message);
        var cache = new HubRepoCache(temp.Path, HubTestRepos.ModelId, RepoType.Model);
        Assert.False(File.Exists(cache.BlobPath(sha)));
        Assert.False(File.Exists(cache.SnapshotPath(commit, "model.safetensors")));
        AssertNothingHalfWritten(temp.Path);
    }

    [Fact]
    public async Task A_resumed_download_whose_bytes_are_corrupt_is_rejected_too()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        string sha = Sha256(files["model.safetensors"]);
        using var temp = new TempFolder();
        var cache = new HubRepoCache(temp.Path, HubTestRepos.ModelId, RepoType.Model);
        Directory.CreateDirectory(cache.BlobsDirectory);
        var badPrefix = HubTestRepos.Bytes(1000, 99);
        File.WriteAllBytes(cache.IncompletePath(sha), badPrefix);
        using var client = new HubClient(server.Options(temp.Path));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct));

        Assert.Contains("sha256 mismatch", error.Message);
        AssertNothingHalfWritten(temp.Path);
        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("/etc/evil.txt")]
    [InlineData("sub/../../evil.txt")]
    [InlineData("sub\\..\\evil.txt")]
    public async Task Server_file_names_that_escape_the_snapshot_are_rejected(string name)
    {
        await using var server = await HubProtocolServer.StartAsync();
        var repo = server.Store.CreateRepo(RepoType.Model, "test-org/evil");
        server.Store.CommitStored(repo, "main", "evil", new Dictionary<string, StoredFile> { [name] = server.Store.Store("x.txt", "pwned"u8.ToArray()) });
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Combine("cache")));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync("test-org/evil", cancellationToken: Ct));

        Assert.Contains($"unsafe file path '{name}'", error.Message);
        Assert.Empty(Directory.GetFiles(temp.Path, "evil.txt", SearchOption.AllDirectories));
        Assert.False(File.Exists("/etc/evil.txt"));
    }

    [Fact]
    public async Task A_shard_index_naming_a_path_outside_the_repo_is_rejected()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var repo = server.Store.CreateRepo(RepoType.Model, "test-org/evil-index");
        server.Store.Commit(repo, "main", "evil", new Dictionary<string, byte[]>
        {
            ["model.safetensors.index.json"] = """{"weight_map": {"a": "../../../../evil.safetensors"}}"""u8.ToArray(),
        });
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync("test-org/evil-index", cancellationToken: Ct));
        Assert.Contains("unsafe file path '../../../../evil.safetensors'", error.Message);
    }

    [Fact]
    public async Task An_unreachable_hub_falls_back_to_the_cached_snapshot()
    {
        using var temp = new TempFolder();
        string snapshot;
        HubOptions options;
        await using (var server = await HubProtocolServer.StartAsync())
        {
            HubTestRepos.Model(server.Store);
            options = server.Options(temp.Path) with { MaxRetries = 1 };
            using var client = new HubClient(options);
            snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);
        }

        using var offline = new HubClient(options);
        Assert.Equal(snapshot, await offline.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct));
        Assert.Equal(Path.Combine(snapshot, "config.json"), await offline.DownloadFileAsync(HubTestRepos.ModelId, "config.json", cancellationToken: Ct));
        await Assert.ThrowsAsync<HubUnreachableException>(() => offline.DownloadSnapshotAsync("test-org/never-downloaded", cancellationToken: Ct));
    }
}
