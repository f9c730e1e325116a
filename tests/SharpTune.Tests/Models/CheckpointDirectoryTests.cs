using System.Text.Json.Nodes;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

public sealed class CheckpointDirectoryTests : IDisposable
{
    private readonly string _directory = TestModels.TempDirectory("sharded");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_model_saved_in_shards_loads_with_the_same_logits_as_in_memory()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Qwen2, tied: false));
        model.SavePretrained(_directory, maxShardBytes: 40_000);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, CheckpointDirectory.IndexFileName)))!;
        var shards = Directory.GetFiles(_directory, "model-*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.True(shards.Count >= 3, $"expected several shards, got {shards.Count}");
        Assert.Equal($"model-00001-of-{shards.Count:D5}.safetensors", shards[0]);
        Assert.False(File.Exists(Path.Combine(_directory, CheckpointDirectory.SingleFileName)));
        Assert.Equal(shards[0], index["weight_map"]!["model.embed_tokens.weight"]!.GetValue<string>());
        long totalSize = model.CheckpointTensors().Sum(t => t.Tensor.NumberOfElements * 4);
        Assert.Equal(totalSize, index["metadata"]!["total_size"]!.GetValue<long>());

        using (var checkpoint = CheckpointDirectory.Open(_directory))
        {
            Assert.True(checkpoint.IsSharded);
            Assert.Equal(model.state_dict().Keys.Order(), checkpoint.TensorNames.Order());
            foreach (var (name, tensor_) in model.state_dict())
            {
                Assert.True(checkpoint.ReadTensor(name).Same(tensor_), name);
            }
        }

        using var loaded = CausalLM.Load(_directory, ScalarType.Float32, CPU);
        var ids = tensor(new long[] { 1, 2, 3, 4, 5 }, [1, 5]);
        Assert.True(loaded.forward(ids).Same(model.forward(ids)));
    }

    [Fact]
    public void A_missing_shard_or_a_lying_index_is_refused_naming_the_tensor()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
        model.SavePretrained(_directory, maxShardBytes: 40_000);
        string indexPath = Path.Combine(_directory, CheckpointDirectory.IndexFileName);
        var index = JsonNode.Parse(File.ReadAllText(indexPath))!;

        index["weight_map"]!["model.norm.weight"] = "model-00001-of-00009.safetensors";
        File.WriteAllText(indexPath, index.ToJsonString());
        var error = Assert.Throws<SharpTuneException>(() => CheckpointDirectory.Open(_directory));
        Assert.Contains("'model.norm.weight'", error.Message);
        Assert.Contains("missing", error.Message);

        string firstShard = index["weight_map"]!["model.embed_tokens.weight"]!.GetValue<string>();
        index["weight_map"]!["model.norm.weight"] = firstShard;
        File.WriteAllText(indexPath, index.ToJsonString());
        error = Assert.Throws<SharpTuneException>(() => CheckpointDirectory.Open(_directory));
        Assert.Contains("holds tensor 'model.norm.weight', but it does not", error.Message);

        index["weight_map"]!["model.norm.weight"] = "../elsewhere.safetensors";
        File.WriteAllText(indexPath, index.ToJsonString());
        Assert.Contains("outside the model directory", Assert.Throws<SharpTuneException>(() => CheckpointDirectory.Open(_directory)).Message);

        File.WriteAllText(indexPath, "{\"weight_map\": 3}");
        Assert.Contains("no 'weight_map' object", Assert.Throws<SharpTuneException>(() => CheckpointDirectory.Open(_directory)).Message);
    }

    [Fact]
    public void A_directory_without_weights_is_refused()
    {
        var error = Assert.Throws<SharpTuneException>(() => CheckpointDirectory.Open(_directory));
        Assert.Contains("no model.safetensors or model.safetensors.index.json", error.Message);
        Assert.Contains("no config.json", Assert.Throws<SharpTuneException>(() => CausalLM.Load(_directory, ScalarType.Float32, CPU)).Message);
    }
}
