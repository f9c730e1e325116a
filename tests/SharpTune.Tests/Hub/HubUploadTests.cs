using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using SharpTune.Hub;
using SharpTune.Progress;

namespace SharpTune.Tests.Hub;

public sealed class HubUploadTests
{
    private const string Token = "hf_writer_token";
    private const string RepoId = "me/tuned-model";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HubProtocolServer> StartAsync()
    {
        var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add(Token);
        server.WriteTokens.Add(Token);
        return server;
    }

    /// <summary>A folder like a publish stage's output: small files, a 2 KB LFS file (one PUT) and a 200 KB GGUF (multipart).</summary>
    private static Dictionary<string, byte[]> WriteFolder(string folder)
    {
        var files = new Dictionary<string, byte[]>
        {
            ["README.md"] = Encoding.UTF8.GetBytes("# tuned\n"),
            ["config.json"] = Encoding.UTF8.GetBytes("{\"model_type\": \"llama\"}"),
            ["adapter/adapter_config.json"] = Encoding.UTF8.GetBytes("{\"r\": 16}"),
            ["adapter/adapter_model.safetensors"] = HubTestRepos.Bytes(2048, 10),
            ["model-q4_k_m.gguf"] = HubTestRepos.Bytes(200_000 + 123, 11),
            ["empty.txt"] = [],
        };
        foreach (var (path, content) in files)
        {
            string full = Path.Combine(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, content);
        }

        Directory.CreateDirectory(Path.Combine(folder, ".git"));
        File.WriteAllText(Path.Combine(folder, ".git", "HEAD"), "ref: refs/heads/main\n");
        return files;
    }

    [Fact]
    public async Task Creating_a_repo_honours_private_and_exist_ok()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path, Token));

        string url = await client.CreateRepoAsync(RepoId, isPrivate: true, cancellationToken: Ct);
        Assert.Equal($"{server.Endpoint}/{RepoId}", url);
        Assert.True(server.Store.Find(RepoType.Model, RepoId)!.Private);
        Assert.Equal(url, await client.CreateRepoAsync(RepoId, cancellationToken: Ct));
        var exists = await Assert.ThrowsAsync<SharpTuneException>(() => client.CreateRepoAsync(RepoId, existOk: false, cancellationToken: Ct));
        Assert.Equal($"model {RepoId} already exists", exists.Message);

        Assert.Equal($"{server.Endpoint}/datasets/me/data", await client.CreateRepoAsync("me/data", RepoType.Dataset, cancellationToken: Ct));
        Assert.NotNull(server.Store.Find(RepoType.Dataset, "me/data"));

        using var anonymous = new HubClient(server.Options(temp.Path));
        var refused = await Assert.ThrowsAsync<SharpTuneException>(() => anonymous.CreateRepoAsync("me/other", cancellationToken: Ct));
        Assert.StartsWith("HTTP 401 from the Hub for model me/other: no token was sent", refused.Message);
    }

    [Fact]
    public async Task A_folder_is_published_with_small_files_inline_and_large_ones_through_lfs_basic_and_multipart()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        var files = WriteFolder(temp.Combine("out"));
        var reports = new List<OperationProgress>();
        using var client = new HubClient(server.Options(temp.Combine("cache"), Token));
        await client.CreateRepoAsync(RepoId, cancellationToken: Ct);

        var result = await client.UploadFolderAsync(RepoId, RepoType.Model, temp.Combine("out"), "Publish tuned model\n\nr=16, 75 steps",
            progress: new SyncProgress(reports.Add), cancellationToken: Ct);

        var repo = server.Store.Find(RepoType.Model, RepoId)!;
        Assert.Equal(repo.Refs["main"], result.CommitOid);
        Assert.Equal(("Publish tuned model"), repo.History[^1].Summary);
        var tree = repo.Commits[result.CommitOid!];
        foreach (var (path, content) in files)
        {
            Assert.Equal(content, server.Store.Content(tree[path]));
        }

        Assert.DoesNotContain(tree.Keys, p => p.StartsWith(".git/", StringComparison.Ordinal));
        string gguf = Convert.ToHexStringLower(SHA256.HashData(files["model-q4_k_m.gguf"]));
        string adapter = Convert.ToHexStringLower(SHA256.HashData(files["adapter/adapter_model.safetensors"]));
        Assert.Equal(gguf, tree["model-q4_k_m.gguf"].Sha256);
        Assert.Equal([gguf], server.MultipartCompleted);
        Assert.Equal([adapter], server.BasicUploads);
        Assert.Equal(["adapter/adapter_model.safetensors", "model-q4_k_m.gguf"], result.UploadedToLfs.Order(StringComparer.Ordinal));
        Assert.Equal(13, server.Requests.Count(r => r.Method == "PUT" && r.Path.Contains("/part/", StringComparison.Ordinal)));

        var lines = server.CommitPayloads.Single().Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal("header", lines[0]["key"]!.GetValue<string>());
        Assert.Equal("r=16, 75 steps", lines[0]["value"]!["description"]!.GetValue<string>());
        Assert.Equal(["README.md", "adapter/adapter_config.json", "config.json", "empty.txt"],
            lines.Where(l => l["key"]!.GetValue<string>() == "file").Select(l => l["value"]!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(lines.Where(l => l["key"]!.GetValue<string>() == "lfsFile"), l => Assert.Equal("sha256", l["value"]!["algo"]!.GetValue<string>()));

        var storage = server.Requests.Where(r => r.Path.StartsWith("/lfs-upload/", StringComparison.Ordinal) && r.Method == "PUT").ToList();
        Assert.All(storage, r => Assert.Null(r.Authorization));
        long total = files.Values.Sum(f => (long)f.Length);
        Assert.Equal(total, reports[^1].Done);
        Assert.Equal(total, reports[^1].Total);

        using var reader = new HubClient(server.Options(temp.Combine("cache2")));
        string snapshot = await reader.DownloadSnapshotAsync(RepoId, cancellationToken: Ct);
        Assert.Equal(files["model-q4_k_m.gguf"], File.ReadAllBytes(Path.Combine(snapshot, "model-q4_k_m.gguf")));
    }

    [Fact]
    public async Task Publishing_again_skips_unchanged_files_and_sends_only_what_changed()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        string folder = temp.Combine("out");
        var files = WriteFolder(folder);
        var log = new List<string>();
        using var client = new HubClient(server.Options(temp.Combine("cache"), Token, log.Add));
        await client.CreateRepoAsync(RepoId, cancellationToken: Ct);
        var first = await client.UploadFolderAsync(RepoId, RepoType.Model, folder, "first", cancellationToken: Ct);
        server.Requests.Clear();

        var again = await client.UploadFolderAsync(RepoId, RepoType.Model, folder, "again", cancellationToken: Ct);

        Assert.Null(again.CommitOid);
        Assert.Empty(again.Uploaded);
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), again.Skipped.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(server.Requests, r => r.Method is "POST" or "PUT");
        Assert.Equal(first.CommitOid, server.Store.Find(RepoType.Model, RepoId)!.Refs["main"]);
        Assert.Contains(log, l => l == "model-q4_k_m.gguf: unchanged on the Hub, skipped");

        File.WriteAllText(Path.Combine(folder, "README.md"), "# tuned, v2\n");
        var changedGguf = HubTestRepos.Bytes(200_000 + 123, 12);
        File.WriteAllBytes(Path.Combine(folder, "model-q4_k_m.gguf"), changedGguf);
        var third = await client.UploadFolderAsync(RepoId, RepoType.Model, folder, "v2", cancellationToken: Ct);

        Assert.Equal(["README.md", "model-q4_k_m.gguf"], third.Uploaded);
        Assert.Equal(4, third.Skipped.Count);
        var tree = server.Store.Find(RepoType.Model, RepoId)!.Commits[third.CommitOid!];
        Assert.Equal("# tuned, v2\n", Encoding.UTF8.GetString(server.Store.Content(tree["README.md"])));
        Assert.Equal(changedGguf, server.Store.Content(tree["model-q4_k_m.gguf"]));
        Assert.Equal(files["config.json"], server.Store.Content(tree["config.json"]));
    }

    [Fact]
    public async Task An_lfs_object_the_storage_already_has_is_not_sent_again()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        string folder = temp.Combine("out");
        var files = WriteFolder(folder);
        server.Store.Lfs[Convert.ToHexStringLower(SHA256.HashData(files["model-q4_k_m.gguf"]))] = files["model-q4_k_m.gguf"];
        using var client = new HubClient(server.Options(temp.Combine("cache"), Token));
        await client.CreateRepoAsync(RepoId, cancellationToken: Ct);

        var result = await client.UploadFolderAsync(RepoId, RepoType.Model, folder, "dedup", cancellationToken: Ct);

        Assert.Contains("model-q4_k_m.gguf", result.UploadedToLfs);
        Assert.Empty(server.MultipartCompleted);
        Assert.DoesNotContain(server.Requests, r => r.Path.Contains("/part/", StringComparison.Ordinal));
        Assert.Equal(files["model-q4_k_m.gguf"], server.Store.Content(server.Store.Find(RepoType.Model, RepoId)!.Commits[result.CommitOid!]["model-q4_k_m.gguf"]));
    }

    [Fact]
    public async Task Failing_parts_and_commits_are_retried()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        string folder = temp.Combine("out");
        var files = WriteFolder(folder);
        server.Faults.FailNext(2, 500, pathContains: "/part/3");
        server.Faults.FailNext(1, 503, retryAfter: "0", pathContains: "/commit/");
        server.Faults.FailNext(1, 429, pathContains: "/preupload/");
        using var client = new HubClient(server.Options(temp.Combine("cache"), Token));
        await client.CreateRepoAsync(RepoId, cancellationToken: Ct);

        var result = await client.UploadFolderAsync(RepoId, RepoType.Model, folder, "retried", cancellationToken: Ct);

        Assert.Equal(files["model-q4_k_m.gguf"], server.Store.Content(server.Store.Find(RepoType.Model, RepoId)!.Commits[result.CommitOid!]["model-q4_k_m.gguf"]));
        Assert.Equal(3, server.Requests.Count(r => r.Path.StartsWith("/lfs-upload/", StringComparison.Ordinal) && r.Path.Contains("/part/3?", StringComparison.Ordinal)));
        Assert.Single(server.CommitPayloads);
    }

    [Fact]
    public async Task Publishing_without_write_access_fails_in_one_line()
    {
        await using var server = await StartAsync();
        server.ValidTokens.Add("hf_read_only");
        server.Store.CreateRepo(RepoType.Model, RepoId);
        using var temp = new TempFolder();
        WriteFolder(temp.Combine("out"));
        using var client = new HubClient(server.Options(temp.Combine("cache"), "hf_read_only"));

        var error = await Assert.ThrowsAsync<SharpTuneException>(() => client.UploadFolderAsync(RepoId, RepoType.Model, temp.Combine("out"), "x", cancellationToken: Ct));

        Assert.StartsWith($"HTTP 403 from the Hub for model {RepoId}: the token has no write access to it", error.Message);
        var missing = await Assert.ThrowsAsync<SharpTuneException>(() => client.UploadFolderAsync(RepoId, RepoType.Model, temp.Combine("nope"), "x", cancellationToken: Ct));
        Assert.EndsWith("nope: no such folder to upload", missing.Message);
    }

    [Fact]
    public async Task Files_from_several_folders_are_published_under_the_repo_paths_given()
    {
        await using var server = await StartAsync();
        using var temp = new TempFolder();
        var files = WriteFolder(temp.Combine("export"));
        File.WriteAllText(temp.Combine("report.md"), "# evaluation\n");
        using var client = new HubClient(server.Options(temp.Combine("cache"), Token));
        await client.CreateRepoAsync(RepoId, cancellationToken: Ct);

        var result = await client.UploadFilesAsync(RepoId, RepoType.Model,
            [("model-q4_k_m.gguf", temp.Combine("export", "model-q4_k_m.gguf")), ("report/README.md", temp.Combine("report.md"))], "bundle", cancellationToken: Ct);

        var tree = server.Store.Find(RepoType.Model, RepoId)!.Commits[result.CommitOid!];
        Assert.Equal(files["model-q4_k_m.gguf"], server.Store.Content(tree["model-q4_k_m.gguf"]));
        Assert.Equal("# evaluation\n", Encoding.UTF8.GetString(server.Store.Content(tree["report/README.md"])));
        var duplicate = await Assert.ThrowsAsync<SharpTuneException>(() => client.UploadFilesAsync(RepoId, RepoType.Model,
            [("a.md", temp.Combine("report.md")), ("a.md", temp.Combine("export", "README.md"))], "dup", cancellationToken: Ct));
        Assert.Equal($"{RepoId}: two files would be published as 'a.md'", duplicate.Message);
        var unsafePath = await Assert.ThrowsAsync<SharpTuneException>(() => client.UploadFilesAsync(RepoId, RepoType.Model,
            [("../a.md", temp.Combine("report.md"))], "bad", cancellationToken: Ct));
        Assert.Contains("'../a.md' cannot be a repo path", unsafePath.Message);
    }
}
