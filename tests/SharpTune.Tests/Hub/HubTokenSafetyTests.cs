using System.Text;
using SharpTune.Hub;
using SharpTune.Progress;

namespace SharpTune.Tests.Hub;

/// <summary>The token must never show up in logs, progress, exception messages or the cache (the CLI: <see cref="HubCommandTests"/>).</summary>
public sealed class HubTokenSafetyTests
{
    private const string Token = "hf_SuperSecretToken0123456789abcdefXYZ";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_token_appears_in_no_log_line_progress_report_exception_or_written_file()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add(Token);
        server.WriteTokens.Add(Token);
        var (repo, _, files) = HubTestRepos.Model(server.Store);
        repo.Private = true;
        var gated = server.Store.CreateRepo(RepoType.Model, "test-org/gated");
        gated.Gated = true;
        using var temp = new TempFolder();
        var captured = new StringBuilder();
        var options = server.Options(temp.Combine("cache"), Token, line => captured.AppendLine(line));
        var progress = new SyncProgress(p => captured.AppendLine($"{p.Task} {p.Done} {p.Total} {p.Unit} {p.Detail}"));
        using var client = new HubClient(options);
        captured.AppendLine(options.ToString());

        // A download with a dropped connection and retried errors (the log then quotes URLs and error messages).
        server.Faults.DropConnection("/cdn/", 1000);
        server.Faults.FailNext(2, 500, pathContains: "/resolve/");
        string snapshot = await client.DownloadSnapshotAsync(HubTestRepos.ModelId, progress: progress, cancellationToken: Ct);
        HubClient.CopySnapshot(snapshot, temp.Combine("local"));

        // Failures of every kind, with a server that quotes the Authorization header back in its error messages.
        server.Faults.EchoAuthorization = true;
        server.Faults.FailNext(100, 500, pathContains: "/api/models/test-org/tiny-llama/revision");
        server.Faults.FailNext(1, 400, pathContains: "/preupload/");
        var failures = new List<Func<Task>>
        {
            () => client.GetRepoInfoAsync(HubTestRepos.ModelId, revision: "main", cancellationToken: Ct),
            () => client.DownloadSnapshotAsync("test-org/gated", cancellationToken: Ct),
            () => client.DownloadFileAsync(HubTestRepos.ModelId, "missing.bin", cancellationToken: Ct),
        };
        Directory.CreateDirectory(temp.Combine("publish"));
        File.WriteAllBytes(temp.Combine("publish", "weights.gguf"), HubTestRepos.Bytes(5000, 1));
        failures.Add(() => client.UploadFolderAsync(HubTestRepos.ModelId, RepoType.Model, temp.Combine("publish"), "msg", cancellationToken: Ct));
        foreach (var failure in failures)
        {
            var error = await Assert.ThrowsAnyAsync<SharpTuneException>(failure);
            captured.AppendLine(error.ToString());
        }

        // The uploads that do succeed, with progress.
        server.Faults.EchoAuthorization = false;
        await client.UploadFolderAsync(HubTestRepos.ModelId, RepoType.Model, temp.Combine("publish"), "msg", progress: progress, cancellationToken: Ct);

        Assert.Contains(server.Requests, r => r.Authorization == "Bearer " + Token);
        Assert.Contains("rejected request with Bearer ***", captured.ToString());
        Assert.DoesNotContain(Token, captured.ToString());
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(temp.Combine("local", "model.safetensors")));
        AssertNoFileContains(temp.Path, Token);
    }

    internal static void AssertNoFileContains(string root, string secret)
    {
        byte[] needle = Encoding.UTF8.GetBytes(secret);
        int scanned = 0;
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(needle) < 0, $"{file} contains the token");
            scanned++;
        }

        Assert.True(scanned > 0, "no files were written");
    }
}
