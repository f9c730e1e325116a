using System.Text;
using SharpTune.Hub;
using SharpTune.Progress;

namespace SharpTune.Tests.Hub;

public sealed class HubDownloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_snapshot_is_cached_exactly_like_huggingface_hub_lays_it_out()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        var reports = new List<OperationProgress>();
        using var client = new HubClient(server.Options(temp.Path));

        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, progress: new SyncProgress(reports.Add), cancellationToken: Ct);

        string root = temp.Combine("models--test-org--tiny-llama");
        Assert.Equal(Path.Combine(root, "snapshots", commit), snapshot);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(root, "refs", "main")));
        foreach (var (path, content) in files)
        {
            string pointer = Path.Combine(snapshot, path);
            var link = new FileInfo(pointer).LinkTarget;
            Assert.NotNull(link);
            Assert.False(Path.IsPathRooted(link), $"{path} links to an absolute path");
            string etag = path.EndsWith(".safetensors", StringComparison.Ordinal)
                ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content))
                : InMemoryHubStore.GitSha1(content);
            string expectedLink = string.Concat(Enumerable.Repeat("../", path.Count(c => c == '/') + 2)) + "blobs/" + etag;
            Assert.Equal(expectedLink, link);
            Assert.Equal(content, File.ReadAllBytes(pointer));
            Assert.True(File.Exists(Path.Combine(root, "blobs", etag)));
        }

        Assert.Empty(Directory.GetFiles(root, "*.incomplete", SearchOption.AllDirectories));
        Assert.Equal(files.Values.Sum(f => (long)f.Length) + server.Store.Find(RepoType.Model, HubTestRepos.ModelId)!.Commits[commit][".gitattributes"].Size,
            reports[^1].Done);
        Assert.Equal(reports[^1].Total, reports[^1].Done);
    }

    [Fact]
    public async Task A_second_download_is_served_from_the_cache_without_fetching_files()
    {
        await using var server = await HubProtocolServer.StartAsync();
        HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));
        string first = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);
        server.Requests.Clear();

        string second = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        Assert.Equal(first, second);
        Assert.DoesNotContain(server.Requests, r => r.Path.Contains("/resolve/", StringComparison.Ordinal) || r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lfs_files_come_from_the_cdn_without_the_token_and_the_token_goes_only_to_the_hub()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add("hf_reader");
        var (repo, _, _) = HubTestRepos.Model(server.Store);
        repo.Private = true;
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path, token: "hf_reader"));

        await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        var cdn = server.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.Equal("localhost", r.Host));
        Assert.All(cdn, r => Assert.Null(r.Authorization));
        Assert.All(server.Requests.Where(r => r.Host == "127.0.0.1"), r => Assert.Equal("Bearer hf_reader", r.Authorization));
    }

    [Fact]
    public async Task Include_patterns_select_files_and_branches_tags_and_commits_resolve()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (repo, mainCommit, _) = HubTestRepos.Model(server.Store);
        string devCommit = server.Store.Commit(repo, "dev", "dev change", new Dictionary<string, byte[]> { ["config.json"] = "{\"dev\": true}"u8.ToArray() });
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        string dev = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, revision: "dev", allowPatterns: ["*.json"], cancellationToken: Ct);
        Assert.EndsWith(devCommit, dev);
        Assert.Equal("{\"dev\": true}", File.ReadAllText(Path.Combine(dev, "config.json")));
        Assert.True(File.Exists(Path.Combine(dev, "tokenizer", "tokenizer_config.json")));
        Assert.False(File.Exists(Path.Combine(dev, "model.safetensors")));
        Assert.Equal(devCommit, File.ReadAllText(temp.Combine("models--test-org--tiny-llama", "refs", "dev")));

        string pinned = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, revision: mainCommit, allowPatterns: ["tokenizer/"], cancellationToken: Ct);
        Assert.EndsWith(mainCommit, pinned);
        Assert.True(File.Exists(Path.Combine(pinned, "tokenizer", "tokenizer_config.json")));
        Assert.False(File.Exists(Path.Combine(pinned, "config.json")));
        Assert.False(File.Exists(temp.Combine("models--test-org--tiny-llama", "refs", mainCommit)));
    }

    [Fact]
    public async Task A_sharded_checkpoint_index_brings_every_shard_it_names()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Sharded(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        string snapshot = await client.DownloadSnapshotAsync("test-org/sharded", allowPatterns: ["*.json"], cancellationToken: Ct);

        Assert.Equal(files["model-00001-of-00002.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model-00001-of-00002.safetensors")));
        Assert.Equal(files["model-00002-of-00002.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model-00002-of-00002.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "consolidated.safetensors")));
    }

    [Fact]
    public async Task An_index_that_names_a_missing_shard_is_an_error()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var repo = server.Store.CreateRepo(RepoType.Model, "test-org/broken");
        server.Store.Commit(repo, "main", "index only", new Dictionary<string, byte[]>
        {
            ["model.safetensors.index.json"] = """{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"""u8.ToArray(),
        });
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync("test-org/broken", cancellationToken: Ct));
        Assert.Contains("names the shard 'model-00001-of-00002.safetensors', which the repo does not have", error.Message);
    }

    [Fact]
    public async Task Dataset_repos_use_the_datasets_prefix_and_parquet_conversions_download_from_their_revision()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var repo = server.Store.CreateRepo(RepoType.Dataset, "test-org/medical");
        server.Store.Commit(repo, "main", "data", new Dictionary<string, byte[]> { ["train.jsonl"] = "{\"instruction\": \"q\"}\n"u8.ToArray() });
        var part0 = HubTestRepos.Bytes(1500, 5);
        var part1 = HubTestRepos.Bytes(700, 6);
        string parquetCommit = server.Store.Commit(repo, HubClient.ParquetRevision, "convert", new Dictionary<string, byte[]>
        {
            ["finetune/train/0000.parquet"] = part0,
            ["finetune/train/0001.parquet"] = part1,
            ["finetune/test/0000.parquet"] = HubTestRepos.Bytes(100, 7),
        });
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        string snapshot = await client.DownloadSnapshotAsync("test-org/medical", RepoType.Dataset, cancellationToken: Ct);
        Assert.Equal("{\"instruction\": \"q\"}\n", File.ReadAllText(Path.Combine(snapshot, "train.jsonl")));
        Assert.StartsWith(temp.Combine("datasets--test-org--medical", "snapshots"), snapshot);
        Assert.Contains(server.Requests, r => r.Path.StartsWith("/datasets/test-org/medical/resolve/", StringComparison.Ordinal));

        var urls = await client.ListParquetFilesAsync("test-org/medical", "finetune", "train", Ct);
        Assert.Equal(2, urls.Count);
        Assert.EndsWith("/api/datasets/test-org/medical/parquet/finetune/train/0.parquet", urls[0]);

        var local = await client.DownloadParquetAsync("test-org/medical", "finetune", "train", cancellationToken: Ct);
        Assert.Equal([part0, part1], local.Select(File.ReadAllBytes));
        Assert.Equal(parquetCommit, File.ReadAllText(temp.Combine("datasets--test-org--medical", "refs", "refs", "convert", "parquet")));
        Assert.Contains(server.Requests, r => r.Path.Contains("/resolve/refs%2Fconvert%2Fparquet/", StringComparison.Ordinal)
            || r.Path.Contains("/tree/refs%2Fconvert%2Fparquet", StringComparison.Ordinal) || r.Path.Contains("/revision/refs%2Fconvert%2Fparquet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_single_file_download_reads_the_commit_etag_and_size_from_the_head_response()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        string weights = await client.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", cancellationToken: Ct);
        string config = await client.DownloadFileAsync(HubTestRepos.ModelId, "config.json", cancellationToken: Ct);

        Assert.Equal(temp.Combine("models--test-org--tiny-llama", "snapshots", commit, "model.safetensors"), weights);
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(weights));
        Assert.Equal(files["config.json"], File.ReadAllBytes(config));
        Assert.EndsWith("blobs/" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(files["model.safetensors"])), new FileInfo(weights).LinkTarget);
        Assert.EndsWith("blobs/" + InMemoryHubStore.GitSha1(files["config.json"]), new FileInfo(config).LinkTarget);
        Assert.Contains(server.Requests, r => r.Method == "HEAD" && r.Path.EndsWith("/resolve/main/model.safetensors", StringComparison.Ordinal));

        server.Requests.Clear();
        Assert.Equal(weights, await client.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", revision: commit, cancellationToken: Ct));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Tree_listings_follow_pagination_links()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.TreePageSize = 2;
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var listed = await client.ListFilesAsync(HubTestRepos.ModelId, revision: commit, cancellationToken: Ct);

        Assert.Equal(files.Keys.Append(".gitattributes").Order(StringComparer.Ordinal), listed.Select(f => f.Path).Order(StringComparer.Ordinal));
        var weights = listed.Single(f => f.Path == "model.safetensors");
        Assert.True(weights.IsLfs);
        Assert.Equal(300_000, weights.Size);
        Assert.Equal(2, server.Requests.Count(r => r.Path.Contains("/tree/", StringComparison.Ordinal)));
        Assert.Contains(server.Requests, r => r.Path.Contains("cursor=2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_local_dir_gets_plain_copies_of_the_snapshot_files()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, _, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Combine("cache")));
        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);

        HubClient.CopySnapshot(snapshot, temp.Combine("out"));

        foreach (var (path, content) in files)
        {
            var info = new FileInfo(temp.Combine("out", path));
            Assert.Null(info.LinkTarget);
            Assert.Equal(content, File.ReadAllBytes(info.FullName));
        }
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress(Action<OperationProgress> report) : IProgress<OperationProgress>
{
    private readonly Lock _gate = new();

    public void Report(OperationProgress value)
    {
        lock (_gate)
        {
            report(value);
        }
    }
}
