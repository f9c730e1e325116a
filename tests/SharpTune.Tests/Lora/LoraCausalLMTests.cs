using System.Text.Json.Nodes;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using SharpTune.Quantization;
using SharpTune.Tests.Training;
using SharpTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Lora;

[Collection(GlobalRandomCollection.Name)]
public sealed class LoraCausalLMTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharptune-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelConfig Config(ModelFamily family = ModelFamily.Llama) => TinyModelFactory.Config(family, TinyModelSize.Tiny, 128, 1, [2]);

    /// <summary>A tiny random model saved as a HF directory (fp32) and its path.</summary>
    private string SavedBase(ModelFamily family = ModelFamily.Llama)
    {
        string path = Path.Combine(_dir, "base-" + family);
        using var model = TinyModelFactory.CreateModel(Config(family), 7, ScalarType.Float32, CPU);
        model.SavePretrained(path);
        return path;
    }

    private static Tensor Ids() => tensor(new long[] { 1, 5, 9, 33, 70, 2, 11, 100, 3, 4, 8, 90 }, [2, 6]);

    private static void RandomizeB(LoraCausalLM model, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, layer) in model.Adapters)
        {
            layer.LoraB.normal_(0, 0.05, generator);
        }
    }

    [Fact]
    public void A_fresh_adapter_leaves_the_logits_unchanged_and_names_parameters_as_peft()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        using var plain = TinyModelFactory.CreateModel(Config(), 7, ScalarType.Float32, CPU);
        var expected = plain.forward(Ids());
        using var lora = new LoraCausalLM(TinyModelFactory.CreateModel(Config(), 7, ScalarType.Float32, CPU), new LoraConfig { Rank = 4, Alpha = 8 });
        Assert.True(allclose(lora.Logits(Ids()), expected, rtol: 1e-5, atol: 1e-5));
        Assert.Equal(2 * 7 * 2, lora.TrainableParameters.Count);
        Assert.Equal("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", lora.TrainableParameters[0].Name);
        Assert.Equal("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", lora.TrainableParameters[^1].Name);
        Assert.All(lora.Model.parameters(), p => Assert.Equal(lora.TrainableParameters.Any(t => ReferenceEquals(t.Parameter, p)), p.requires_grad));
    }

    [Fact]
    public void Peft_adapter_round_trips_with_peft_config_fields_and_key_names()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        var config = new LoraConfig { Rank = 4, Alpha = 16, TargetModules = ["q", "v", "down"], UseRsLora = true, BaseModelNameOrPath = "tiny" };
        using var trained = new LoraCausalLM(TinyModelFactory.CreateModel(Config(), 7, ScalarType.Float32, CPU), config);
        RandomizeB(trained, 1);
        string adapterDir = Path.Combine(_dir, "adapter");
        trained.SaveAdapter(adapterDir);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(adapterDir, PeftAdapter.ConfigFileName)))!;
        Assert.Equal("LORA", json["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", json["task_type"]!.GetValue<string>());
        Assert.Equal(4, json["r"]!.GetValue<int>());
        Assert.Equal(16, json["lora_alpha"]!.GetValue<double>());
        Assert.True(json["use_rslora"]!.GetValue<bool>());
        Assert.Equal(new[] { "q_proj", "v_proj", "down_proj" }, json["target_modules"]!.AsArray().Select(t => t!.GetValue<string>()).ToArray());
        using (var file = SafetensorsFile.Open(Path.Combine(adapterDir, PeftAdapter.WeightsFileName)))
        {
            var names = file.Tensors.Select(t => t.Name).ToHashSet();
            Assert.Equal(2 * 3 * 2, names.Count);
            Assert.Contains("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", names);
            Assert.Equal(new long[] { 4, 64 }, file.Info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").Shape);
            Assert.Equal(new long[] { 64, 4 }, file.Info("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight").Shape.Take(1).Append(4L).ToArray());
        }

        using var loaded = PeftAdapter.Load(adapterDir);
        Assert.Equal(config with { Seed = loaded.Config.Seed }, loaded.Config with { TargetModules = config.TargetModules });
        Assert.Equal(16 / 2.0, loaded.Config.Scaling); // rsLoRA: alpha / sqrt(r)
        using var restored = new LoraCausalLM(TinyModelFactory.CreateModel(Config(), 7, ScalarType.Float32, CPU), loaded.Config with { Seed = 99 });
        restored.LoadAdapterWeights(loaded);
        Assert.True(allclose(restored.Logits(Ids()), trained.Logits(Ids()), rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void Merging_gives_a_16_bit_model_whose_logits_equal_the_adapted_model()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        string basePath = SavedBase(ModelFamily.Qwen2); // q/k/v biases and tied embeddings too
        var config = new LoraConfig { Rank = 4, Alpha = 8 };
        using var adapted = new LoraCausalLM(CausalLM.Load(basePath, ScalarType.Float32, CPU), config);
        RandomizeB(adapted, 2);
        string adapterDir = Path.Combine(_dir, "adapter");
        adapted.SaveAdapter(adapterDir);
        string mergedDir = Path.Combine(_dir, "merged");
        var result = LoraMerger.Merge(basePath, adapterDir, mergedDir, ScalarType.Float32);
        Assert.Equal(2 * 7, result.MergedModules);
        using var merged = CausalLM.Load(mergedDir, ScalarType.Float32, CPU);
        var expected = adapted.Logits(Ids());
        Assert.True(allclose(merged.forward(Ids()), expected, rtol: 1e-4, atol: 1e-4));
        using var original = CausalLM.Load(basePath, ScalarType.Float32, CPU);
        Assert.False(allclose(original.forward(Ids()), expected, rtol: 1e-3, atol: 1e-3)); // the adapter really changed it

        var bf16 = LoraMerger.Merge(basePath, adapterDir, Path.Combine(_dir, "merged16"));
        Assert.Equal(ScalarType.Float32, bf16.DType); // the base's torch_dtype
        Assert.Equal("float32", ModelConfig.Load(Path.Combine(_dir, "merged16")).TorchDtype);
    }

    [Fact]
    public void Nf4_base_quantized_on_load_saves_and_reloads_to_identical_logits_close_to_the_16_bit_model()
    {
        SingleThreadedTorch.Initialize();
        using var scope = NewDisposeScope();
        string basePath = SavedBase();
        using var quantized = QuantizedBaseModel.QuantizeWhileLoading(basePath, ScalarType.Float32, CPU);
        Assert.All(Enumerable.Range(0, 2), i => Assert.IsType<Nf4Linear>(quantized.Layers[i].Mlp.DownProj));
        string artifact = Path.Combine(_dir, "nf4");
        QuantizedBaseModel.Save(quantized, artifact, basePath);
        Assert.True(QuantizedBaseModel.IsQuantizedDirectory(artifact));
        using var reloaded = QuantizedBaseModel.Load(artifact, ScalarType.Float32, CPU);
        var logits = quantized.forward(Ids());
        Assert.True(reloaded.forward(Ids()).eq(logits).all().item<bool>());
        using var original = CausalLM.Load(basePath, ScalarType.Float32, CPU);
        var reference = original.forward(Ids());
        double relative = (logits - reference).norm().item<float>() / reference.norm().item<float>();
        Assert.InRange(relative, 1e-4, 0.25);
        using (var file = SafetensorsFile.Open(Path.Combine(artifact, QuantizedBaseModel.WeightsFileName)))
        {
            Assert.Equal(64 * 64 / 2, file.Info("model.layers.0.self_attn.q_proj.weight.nf4").ByteLength);
            Assert.False(file.Contains("model.layers.0.self_attn.q_proj.weight"));
        }
    }

    [Fact]
    public void Checkpointed_partly_checkpointed_and_plain_decoder_layers_give_the_same_lora_gradients_on_an_nf4_model()
    {
        SingleThreadedTorch.Initialize();
        string basePath = SavedBase();
        var recomputed = new List<int>();
        float[][] Gradients(GradientCheckpointing mode, int? checkpointedLayers = null)
        {
            recomputed.Clear();
            using var scope = NewDisposeScope();
            using var model = new LoraCausalLM(QuantizedBaseModel.QuantizeWhileLoading(basePath, ScalarType.Float32, CPU), new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0.1 });
            RandomizeB(model, 3);
            model.SetTraining(true);
            var ids = Ids();
            var labels = cat([ids.narrow(1, 1, 5), full(2, 1, TrainingBatch.IgnoreIndex, ScalarType.Int64)], 1);
            var hidden = model.ForwardHidden(ids, mode, 42, recomputed.Add, checkpointedLayers);
            CausalLmLoss.Sum(model.LmHead, hidden, labels, chunkTokens: 4, checkpointChunks: mode != GradientCheckpointing.Off).backward();
            BackwardResults.ReleaseCurrentThread();
            return model.TrainableParameters.Select(p => p.Parameter.grad!.data<float>().ToArray()).ToArray();
        }

        long reused = DequantizedWeightCache.ReusedOnThisThread;
        var plain = Gradients(GradientCheckpointing.Off);
        Assert.Equal(reused, DequantizedWeightCache.ReusedOnThisThread);
        var checkpointed = Gradients(GradientCheckpointing.On);
        Assert.Equal([1, 0], recomputed);
        // Each recomputed layer's backward GEMMs reused the NF4 weights its recompute dequantized.
        Assert.True(DequantizedWeightCache.ReusedOnThisThread - reused >= 2 * 6, $"{DequantizedWeightCache.ReusedOnThisThread - reused} dequantizations reused");
        var firstLayerOnly = Gradients(GradientCheckpointing.On, checkpointedLayers: 1);
        Assert.Equal([0], recomputed); // the last layer kept its activations: no checkpointed backward
        Assert.Contains(plain, g => g.Any(v => v != 0));
        foreach (var other in new[] { checkpointed, firstLayerOnly })
        {
            for (int i = 0; i < plain.Length; i++)
            {
                for (int j = 0; j < plain[i].Length; j++)
                {
                    // Checkpointed loss chunks compute the loss gradient in their own function: float32 rounding differs.
                    Assert.True(Math.Abs(plain[i][j] - other[i][j]) <= 1e-4, $"gradient {i}[{j}]: {plain[i][j]} vs {other[i][j]}");
                }
            }
        }
    }
}
