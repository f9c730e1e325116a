using System.Text;
using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

/// <summary>Repos the Hub tests publish on the test server, with deterministic pseudo-random content.</summary>
internal static class HubTestRepos
{
    public const string ModelId = "test-org/tiny-llama";

    public static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A model with a regular config, a nested regular file and a single LFS safetensors file.</summary>
    public static (HubRepoState Repo, string Commit, Dictionary<string, byte[]> Files) Model(InMemoryHubStore store, string id = ModelId)
    {
        var repo = store.CreateRepo(RepoType.Model, id);
        var files = new Dictionary<string, byte[]>
        {
            ["config.json"] = Encoding.UTF8.GetBytes("{\"model_type\": \"llama\", \"hidden_size\": 64}"),
            ["tokenizer/tokenizer_config.json"] = Encoding.UTF8.GetBytes("{\"bos_token\": \"<s>\"}"),
            ["model.safetensors"] = Bytes(300_000, 1),
        };
        string commit = store.Commit(repo, "main", "add model", files);
        return (repo, commit, files);
    }

    /// <summary>A sharded checkpoint: an index naming two LFS shards, plus a third safetensors file the index does not name.</summary>
    public static (HubRepoState Repo, string Commit, Dictionary<string, byte[]> Files) Sharded(InMemoryHubStore store, string id = "test-org/sharded")
    {
        var repo = store.CreateRepo(RepoType.Model, id);
        var files = new Dictionary<string, byte[]>
        {
            ["config.json"] = Encoding.UTF8.GetBytes("{}"),
            ["model.safetensors.index.json"] = Encoding.UTF8.GetBytes("""
                {"metadata": {"total_size": 6000}, "weight_map": {
                  "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                  "model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
                  "lm_head.weight": "model-00002-of-00002.safetensors"}}
                """),
            ["model-00001-of-00002.safetensors"] = Bytes(4000, 2),
            ["model-00002-of-00002.safetensors"] = Bytes(2000, 3),
            ["consolidated.safetensors"] = Bytes(3000, 4),
        };
        string commit = store.Commit(repo, "main", "add shards", files);
        return (repo, commit, files);
    }
}
