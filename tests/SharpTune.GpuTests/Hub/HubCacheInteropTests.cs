using System.Text.Json;
using SharpTune.GpuTests.Models;
using SharpTune.Hub;

namespace SharpTune.GpuTests.Hub;

/// <summary>
/// On a host with Python's huggingface_hub (the GPU host has it with transformers; no GPU is used): SharpTune's Hub
/// cache and huggingface_hub's must be the same cache. (1) SharpTune downloads a repo from a local Hub protocol
/// server; huggingface_hub (tests/oracles/hub_cache_check.py) must find every file in that cache offline, with no
/// scan warnings. (2) huggingface_hub downloads the same repo from the server; SharpTune, offline, must serve it from
/// that cache. Takes seconds.
/// </summary>
public sealed class HubCacheInteropTests
{
    private const string RepoId = "test-org/tiny-llama";

    private static Dictionary<string, byte[]> Files()
    {
        var random = new Random(7);
        byte[] Bytes(int n)
        {
            var b = new byte[n];
            random.NextBytes(b);
            return b;
        }

        return new Dictionary<string, byte[]>
        {
            ["config.json"] = """{"model_type": "llama", "hidden_size": 64}"""u8.ToArray(),
            ["tokenizer/tokenizer_config.json"] = """{"bos_token": "<s>"}"""u8.ToArray(),
            ["model.safetensors.index.json"] = """{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"""u8.ToArray(),
            ["model-00001-of-00002.safetensors"] = Bytes(300_000),
            ["model-00002-of-00002.safetensors"] = Bytes(70_000),
        };
    }

    [Fact]
    public async Task A_sharptune_cache_is_read_by_huggingface_hub_and_a_huggingface_hub_cache_by_sharptune()
    {
        var files = Files();
        using var server = new HubFileServer(RepoId, files);
        string root = Directory.CreateTempSubdirectory("sharptune-hub-interop-").FullName;
        try
        {
            string sharptuneCache = Path.Combine(root, "sharptune-cache");
            using (var client = new HubClient(new HubOptions { Endpoint = server.Endpoint, CacheDirectory = sharptuneCache }))
            {
                await client.DownloadSnapshotAsync(RepoId, cancellationToken: TestContext.Current.CancellationToken);
            }

            string expect = Path.Combine(root, "expect.json");
            File.WriteAllText(expect, JsonSerializer.Serialize(files.ToDictionary(f => f.Key, f => HubFileServer.Sha256(f.Value))));
            string checkedJson = PythonOracle.Run("hub_cache_check.py", "check", "--cache", sharptuneCache, "--repo", RepoId, "--revision", "main", "--expect", expect);
            Assert.True(JsonDocument.Parse(checkedJson).RootElement.GetProperty("ok").GetBoolean(), checkedJson);

            string pythonCache = Path.Combine(root, "python-cache");
            PythonOracle.Run("hub_cache_check.py", "download", "--cache", pythonCache, "--repo", RepoId, "--revision", "main", "--endpoint", server.Endpoint);
            using var offline = new HubClient(new HubOptions { Endpoint = server.Endpoint, CacheDirectory = pythonCache, Offline = true });
            string snapshot = await offline.DownloadSnapshotAsync(RepoId, cancellationToken: TestContext.Current.CancellationToken);
            Assert.EndsWith(server.Commit, snapshot);
            foreach (var (path, content) in files)
            {
                Assert.Equal(content, File.ReadAllBytes(await offline.DownloadFileAsync(RepoId, path, cancellationToken: TestContext.Current.CancellationToken)));
            }

            // Both caches hold the same blobs under the same names (etag: sha256 for LFS files, git sha1 otherwise).
            string Blobs(string cache) => string.Join(",", Directory.GetFiles(Path.Combine(cache, "models--test-org--tiny-llama", "blobs")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(Blobs(pythonCache), Blobs(sharptuneCache));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
