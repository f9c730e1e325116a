using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

public sealed class HubAuthTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_gated_repo_says_to_accept_the_licence_and_set_hf_token()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.UnionWith(["hf_accepted", "hf_not_accepted"]);
        var (repo, _, files) = HubTestRepos.Model(server.Store);
        repo.Gated = true;
        repo.AcceptedTokens.Add("hf_accepted");
        using var temp = new TempFolder();

        using (var anonymous = new HubClient(server.Options(temp.Path)))
        {
            var error = await Assert.ThrowsAsync<SharpTuneException>(() => anonymous.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct));
            Assert.Equal($"model test-org/tiny-llama is gated: accept its licence at {server.Endpoint}/test-org/tiny-llama and set HF_TOKEN to a token of that account "
                + "(no token was sent: set HF_TOKEN (or log in with `hf auth login`))", error.Message);
            var fileError = await Assert.ThrowsAsync<SharpTuneException>(() => anonymous.DownloadFileAsync(HubTestRepos.ModelId, "config.json", cancellationToken: Ct));
            Assert.Contains("is gated: accept its licence", fileError.Message);
        }

        using (var notAccepted = new HubClient(server.Options(temp.Path, token: "hf_not_accepted")))
        {
            var error = await Assert.ThrowsAsync<SharpTuneException>(() => notAccepted.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct));
            Assert.Contains("is gated: accept its licence", error.Message);
            Assert.Contains("the token that was sent has no access to it", error.Message);
        }

        using var accepted = new HubClient(server.Options(temp.Path, token: "hf_accepted"));
        string snapshot = await accepted.DownloadSnapshotAsync(HubTestRepos.ModelId, cancellationToken: Ct);
        Assert.Equal(files["config.json"], File.ReadAllBytes(Path.Combine(snapshot, "config.json")));
    }

    [Fact]
    public async Task Missing_repos_files_and_revisions_and_bad_tokens_each_get_one_clear_line()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add("hf_valid");
        var (repo, _, _) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using var client = new HubClient(server.Options(temp.Path));

        var missingRepo = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync("test-org/nope", cancellationToken: Ct));
        Assert.Equal("model test-org/nope not found, or it is private (no token was sent: set HF_TOKEN (or log in with `hf auth login`))", missingRepo.Message);

        var missingFile = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadFileAsync(HubTestRepos.ModelId, "nope.bin", cancellationToken: Ct));
        Assert.Equal("file 'nope.bin' not found in model test-org/tiny-llama at revision 'main'", missingFile.Message);

        var missingRevision = await Assert.ThrowsAsync<SharpTuneException>(() => client.DownloadSnapshotAsync(HubTestRepos.ModelId, revision: "v9", cancellationToken: Ct));
        Assert.Equal("revision 'v9' not found in model test-org/tiny-llama", missingRevision.Message);

        repo.Private = true;
        var privateRepo = await Assert.ThrowsAsync<SharpTuneException>(() => client.GetRepoInfoAsync(HubTestRepos.ModelId, cancellationToken: Ct));
        Assert.StartsWith("model test-org/tiny-llama not found, or it is private", privateRepo.Message);

        using var badToken = new HubClient(server.Options(temp.Path, token: "hf_expired"));
        var refused = await Assert.ThrowsAsync<SharpTuneException>(() => badToken.GetRepoInfoAsync(HubTestRepos.ModelId, cancellationToken: Ct));
        Assert.Equal("the Hub refused the token (invalid or expired) for model test-org/tiny-llama: set HF_TOKEN to a valid token", refused.Message);

        using var valid = new HubClient(server.Options(temp.Path, token: "hf_valid"));
        Assert.Equal(repo.Refs["main"], (await valid.GetRepoInfoAsync(HubTestRepos.ModelId, cancellationToken: Ct)).Sha);
    }

    [Fact]
    public async Task Offline_mode_serves_the_cache_without_requests_and_says_clearly_what_is_missing()
    {
        await using var server = await HubProtocolServer.StartAsync();
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        using (var online = new HubClient(server.Options(temp.Path)))
        {
            await online.DownloadSnapshotAsync(HubTestRepos.ModelId, allowPatterns: ["*.json"], cancellationToken: Ct);
        }

        server.Requests.Clear();
        using var offline = new HubClient(server.Options(temp.Path) with { Offline = true });
        string snapshot = await offline.DownloadSnapshotAsync(HubTestRepos.ModelId, allowPatterns: ["config.json"], cancellationToken: Ct);
        Assert.EndsWith(commit, snapshot);
        Assert.Equal(files["config.json"], File.ReadAllBytes(await offline.DownloadFileAsync(HubTestRepos.ModelId, "config.json", cancellationToken: Ct)));

        var missingFile = await Assert.ThrowsAsync<SharpTuneException>(() => offline.DownloadFileAsync(HubTestRepos.ModelId, "model.safetensors", cancellationToken: Ct));
        Assert.StartsWith("HF_HUB_OFFLINE is set and the file 'model.safetensors' of model test-org/tiny-llama at 'main' is not in the cache", missingFile.Message);
        var missingRepo = await Assert.ThrowsAsync<SharpTuneException>(() => offline.DownloadSnapshotAsync("test-org/other", cancellationToken: Ct));
        Assert.Contains("HF_HUB_OFFLINE is set", missingRepo.Message);
        Assert.Contains("unset HF_HUB_OFFLINE", missingRepo.Message);
        var upload = await Assert.ThrowsAsync<SharpTuneException>(() => offline.UploadFolderAsync(HubTestRepos.ModelId, RepoType.Model, temp.Path, "x", cancellationToken: Ct));
        Assert.StartsWith("HF_HUB_OFFLINE is set", upload.Message);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void Settings_come_from_the_same_variables_and_token_file_as_huggingface_hub()
    {
        using var temp = new TempFolder();
        string Get(Dictionary<string, string> variables, string name) => variables.GetValueOrDefault(name)!;

        var bare = new Dictionary<string, string> { ["HOME"] = temp.Path };
        var options = HubOptions.FromEnvironment(n => Get(bare, n));
        Assert.Equal("https://huggingface.co", options.Endpoint);
        Assert.Equal(temp.Combine(".cache", "huggingface", "hub"), options.CacheDirectory);
        Assert.Null(options.Token);
        Assert.False(options.Offline);

        Directory.CreateDirectory(temp.Combine(".cache", "huggingface"));
        File.WriteAllText(temp.Combine(".cache", "huggingface", "token"), "hf_from_default_file\n");
        Assert.Equal("hf_from_default_file", HubOptions.FromEnvironment(n => Get(bare, n)).Token);

        var home = new Dictionary<string, string> { ["HOME"] = temp.Path, ["HF_HOME"] = temp.Combine("hfhome"), ["HF_ENDPOINT"] = "http://mirror.local:8080/", ["HF_HUB_OFFLINE"] = "yes" };
        Directory.CreateDirectory(temp.Combine("hfhome"));
        File.WriteAllText(temp.Combine("hfhome", "token"), "  hf_from_hf_home  ");
        options = HubOptions.FromEnvironment(n => Get(home, n));
        Assert.Equal(temp.Combine("hfhome", "hub"), options.CacheDirectory);
        Assert.Equal("hf_from_hf_home", options.Token);
        Assert.Equal("http://mirror.local:8080", options.Endpoint);
        Assert.True(options.Offline);

        home["HF_TOKEN_PATH"] = temp.Combine("elsewhere-token");
        File.WriteAllText(temp.Combine("elsewhere-token"), "hf_from_token_path");
        home["HF_HUB_CACHE"] = temp.Combine("hubcache");
        options = HubOptions.FromEnvironment(n => Get(home, n));
        Assert.Equal("hf_from_token_path", options.Token);
        Assert.Equal(temp.Combine("hubcache"), options.CacheDirectory);

        home["HF_TOKEN"] = "hf_from_variable";
        home["HF_HUB_OFFLINE"] = "0";
        options = HubOptions.FromEnvironment(n => Get(home, n));
        Assert.Equal("hf_from_variable", options.Token);
        Assert.False(options.Offline);

        var xdg = new Dictionary<string, string> { ["HOME"] = temp.Path, ["XDG_CACHE_HOME"] = temp.Combine("xdg") };
        Assert.Equal(temp.Combine("xdg", "huggingface", "hub"), HubOptions.FromEnvironment(n => Get(xdg, n)).CacheDirectory);
    }

    [Fact]
    public void Repo_ids_revisions_and_patterns_are_checked()
    {
        HubRepoId.Validate("deepseek-ai/DeepSeek-R1-Distill-Llama-8B");
        HubRepoId.Validate("gpt2");
        foreach (string bad in new[] { "", "a/b/c", "../x", "org/..", "org--x/y", "/abs", "org/name " })
        {
            Assert.Throws<SharpTuneException>(() => HubRepoId.Validate(bad));
        }

        HubRepoId.ValidateRevision("refs/convert/parquet");
        foreach (string bad in new[] { "", "../main", "refs/../../x", "/main", "a\\b" })
        {
            Assert.Throws<SharpTuneException>(() => HubRepoId.ValidateRevision(bad));
        }

        Assert.True(new PathGlob("*.json").IsMatch("tokenizer/tokenizer.json"));
        Assert.True(new PathGlob("data/").IsMatch("data/train/0000.parquet"));
        Assert.True(new PathGlob("model-0000[12]-of-*.safetensors").IsMatch("model-00002-of-00002.safetensors"));
        Assert.False(new PathGlob("*.safetensors").IsMatch("model.safetensors.index.json"));
        Assert.False(new PathGlob("config.json").IsMatch("sub/config.json"));
    }
}
