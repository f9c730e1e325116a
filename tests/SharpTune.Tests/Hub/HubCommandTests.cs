using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

/// <summary>The <c>sharptune hub</c> commands: in this process with given settings, and as a process with the settings in its environment.</summary>
public sealed class HubCommandTests
{
    private const string Token = "hf_CliSecretToken0123456789abcdefXYZ";

    internal static Dictionary<string, string?> Environment(HubProtocolServer server, string hfHome, string? token) => new()
    {
        ["HF_ENDPOINT"] = server.Endpoint,
        ["HF_HOME"] = hfHome,
        ["HF_TOKEN"] = token,
        ["HF_HUB_CACHE"] = null,
        ["HUGGINGFACE_HUB_CACHE"] = null,
        ["HF_TOKEN_PATH"] = null,
        ["HF_HUB_OFFLINE"] = null,
        ["HUGGING_FACE_HUB_TOKEN"] = null,
    };

    internal static (int ExitCode, string StdOut, string StdErr) RunCli(IDictionary<string, string?> environment, params string[] arguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll");
        string dotnet = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var result = ProcessRunner.RunWithExitCode(dotnet, environment, [cli, .. arguments]);
        Assert.NotNull(result);
        return result!.Value;
    }

    /// <summary>Runs <c>sharptune hub ...</c> in this process, with the Hub settings given instead of read from the environment.</summary>
    internal static async Task<(int ExitCode, string StdOut, string StdErr)> RunInProcessAsync(HubOptions options, params string[] arguments)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new System.CommandLine.RootCommand { SharpTune.Cli.Commands.HubCommand.Create(new SharpTune.Cli.CliContext(stdout, stderr), () => options) };
        try
        {
            int code = await root.Parse(arguments).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
            return (code, stdout.ToString(), stderr.ToString());
        }
        catch (SharpTuneException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return (e.ExitCode, stdout.ToString(), stderr.ToString());
        }
    }

    [Fact]
    public async Task Download_prints_the_snapshot_folder_and_upload_publishes_a_folder()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add(Token);
        server.WriteTokens.Add(Token);
        var (_, commit, files) = HubTestRepos.Model(server.Store);
        using var temp = new TempFolder();
        var options = server.Options(temp.Combine("home", "hub"), Token);
        var printed = new List<string>();

        var (code, stdout, stderr) = await RunInProcessAsync(options, "hub", "download", HubTestRepos.ModelId, "--include", "*.json", "--revision", "main", "--local-dir", temp.Combine("local"));
        printed.AddRange([stdout, stderr]);
        Assert.True(code == 0, stderr);
        Assert.Equal(temp.Combine("local"), stdout.Trim());
        Assert.Equal(files["config.json"], File.ReadAllBytes(temp.Combine("local", "config.json")));
        string snapshot = temp.Combine("home", "hub", "models--test-org--tiny-llama", "snapshots", commit);
        Assert.Equal(files["config.json"], File.ReadAllBytes(Path.Combine(snapshot, "config.json")));
        Assert.False(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains("download test-org/tiny-llama", stderr);

        Directory.CreateDirectory(temp.Combine("publish"));
        File.WriteAllBytes(temp.Combine("publish", "model.gguf"), HubTestRepos.Bytes(100_000, 3));
        (code, stdout, stderr) = await RunInProcessAsync(options, "hub", "upload", "me/cli-model", temp.Combine("publish"), "--private", "--message", "from the cli");
        printed.AddRange([stdout, stderr]);
        Assert.True(code == 0, stderr);
        var repo = server.Store.Find(RepoType.Model, "me/cli-model")!;
        Assert.True(repo.Private);
        Assert.Equal("from the cli", repo.History[^1].Summary);
        Assert.Equal($"{server.Endpoint}/me/cli-model/commit/{repo.Refs["main"]}", stdout.Trim());
        Assert.Contains("uploaded 1 files (1 through LFS), skipped 0 unchanged", stderr);

        (code, stdout, stderr) = await RunInProcessAsync(options, "hub", "upload", "me/cli-model", temp.Combine("publish"));
        printed.AddRange([stdout, stderr]);
        Assert.True(code == 0, stderr);
        Assert.Contains("nothing changed, no commit", stdout);

        Assert.Contains(server.Requests, r => r.Authorization == "Bearer " + Token);
        Assert.All(printed, text => Assert.DoesNotContain(Token, text));
        HubTokenSafetyTests.AssertNoFileContains(temp.Path, Token);
    }

    [Fact]
    public async Task Errors_are_one_line_without_a_stack_trace()
    {
        await using var server = await HubProtocolServer.StartAsync();
        server.ValidTokens.Add(Token);
        server.Store.CreateRepo(RepoType.Dataset, "test-org/gated-data").Gated = true;
        using var temp = new TempFolder();

        var (code, stdout, stderr) = RunCli(Environment(server, temp.Path, Token), "hub", "download", "test-org/gated-data", "--type", "dataset");

        Assert.Equal(1, code);
        Assert.StartsWith("error: dataset test-org/gated-data is gated: accept its licence at ", stderr);
        Assert.Contains("the token that was sent has no access to it", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.DoesNotContain(Token, stdout + stderr);

        var offline = new Dictionary<string, string?>(Environment(server, temp.Path, null)) { ["HF_HUB_OFFLINE"] = "1" };
        (code, _, stderr) = RunCli(offline, "hub", "download", "test-org/anything");
        Assert.Equal(1, code);
        Assert.StartsWith("error: HF_HUB_OFFLINE is set and the snapshot of model test-org/anything at 'main' is not in the cache", stderr);
    }

    [Fact]
    public void Help_explains_the_hub_commands()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, SharpTune.Cli.SharpTuneCli.Run(["hub", "download", "--help"], stdout, new StringWriter()));
        Assert.Contains("--include", stdout.ToString());
        Assert.Contains("--local-dir", stdout.ToString());
        stdout = new StringWriter();
        Assert.Equal(0, SharpTune.Cli.SharpTuneCli.Run(["hub", "upload", "--help"], stdout, new StringWriter()));
        Assert.Contains("--private", stdout.ToString());
        Assert.Contains("--message", stdout.ToString());
    }
}
