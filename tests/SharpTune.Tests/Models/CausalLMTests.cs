using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

public sealed class CausalLMTests
{
    public static TheoryData<ModelFamily, bool> Variants => new()
    {
        { ModelFamily.Llama, false },
        { ModelFamily.Llama, true },
        { ModelFamily.Mistral, false },
        { ModelFamily.Qwen2, false },
        { ModelFamily.Qwen2, true },
        { ModelFamily.Qwen3, true },
        { ModelFamily.Qwen3, false },
    };

    private static readonly long[] Ids = [1, 17, 99, 3, 250, 42, 42, 7, 128, 64, 5, 200];

    [Theory]
    [MemberData(nameof(Variants))]
    public void Fp32_logits_match_the_plain_float64_reference_decoder(ModelFamily family, bool tied)
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var config = TestModels.Config(family, tied, c => c with { SlidingWindow = family == ModelFamily.Mistral ? 5 : null });
        using var model = TestModels.Create(config);
        var logits = model.forward(tensor(Ids, [1, Ids.Length]))[0];
        var reference = ReferenceDecoder.Logits(config, model.state_dict(), Ids);
        double relative = (logits.to(ScalarType.Float64) - reference).abs().max().item<double>() / reference.abs().max().item<double>();
        Assert.True(relative < 1e-5, $"{family} tied={tied}: relative error {relative:E2}");
        Assert.True(reference.std().item<double>() > 0.1, "logits should not be trivially small");
    }

    [Fact]
    public void Qwen3_with_a_head_dim_unlike_hidden_over_heads_and_llama_with_biases_match_the_reference()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        foreach (var config in new[]
        {
            TestModels.Config(ModelFamily.Qwen3, adjust: c => c with { HeadDim = 32, QkvBias = true, OutputBias = true }),
            TestModels.Config(ModelFamily.Llama, adjust: c => c with { QkvBias = true, OutputBias = true, MlpBias = true, Rope = new RopeScaling(RopeScaling.Default, 10000) }),
        })
        {
            using var model = TestModels.Create(config);
            var logits = model.forward(tensor(Ids, [1, Ids.Length]))[0];
            var reference = ReferenceDecoder.Logits(config, model.state_dict(), Ids);
            double relative = (logits.to(ScalarType.Float64) - reference).abs().max().item<double>() / reference.abs().max().item<double>();
            Assert.True(relative < 1e-5, $"{config.Family}: relative error {relative:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void State_dict_keys_are_exactly_the_hugging_face_keys(ModelFamily family, bool tied)
    {
        _ = TorchFixture.Runtime;
        var config = TestModels.Config(family, tied);
        using var model = TestModels.Create(config);
        var expected = new List<string> { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight" };
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            expected.AddRange(new[] { "q_proj", "k_proj", "v_proj", "o_proj" }.Select(n => $"{p}self_attn.{n}.weight"));
            expected.AddRange(new[] { "gate_proj", "up_proj", "down_proj" }.Select(n => $"{p}mlp.{n}.weight"));
            expected.AddRange([p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]);
            if (family == ModelFamily.Qwen2)
            {
                expected.AddRange(new[] { "q_proj", "k_proj", "v_proj" }.Select(n => $"{p}self_attn.{n}.bias"));
            }

            if (family == ModelFamily.Qwen3)
            {
                expected.AddRange([p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]);
            }
        }

        var keys = model.state_dict().Keys.ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        using (no_grad())
        {
            model.Embed.weight![3, 5] = tensor(42f);
        }

        Assert.Equal(tied, model.LmHead.weight![3, 5].item<float>() == 42f);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Saved_and_loaded_models_give_identical_logits_and_tied_models_save_no_lm_head(ModelFamily family, bool tied)
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        string directory = TestModels.TempDirectory("roundtrip");
        try
        {
            var config = TestModels.Config(family, tied);
            using var model = TestModels.Create(config);
            model.SavePretrained(directory);
            using (var checkpoint = CheckpointDirectory.Open(directory))
            {
                Assert.Equal(!tied, checkpoint.Contains("lm_head.weight"));
            }

            using var loaded = CausalLM.Load(directory, ScalarType.Float32, CPU);
            var input = tensor(Ids, [1, Ids.Length]);
            Assert.True(model.forward(input).Same(loaded.forward(input)));
            var c = loaded.Config;
            Assert.Equal(
                (config.Family, config.Architecture, config.HiddenSize, config.NumKeyValueHeads, config.HeadDim, config.Rope, config.TieWordEmbeddings, config.QkvBias, config.QkNorm, config.SlidingWindow, config.BosTokenId),
                (c.Family, c.Architecture, c.HiddenSize, c.NumKeyValueHeads, c.HeadDim, c.Rope, c.TieWordEmbeddings, c.QkvBias, c.QkNorm, c.SlidingWindow, c.BosTokenId));
            Assert.Equal(config.EosTokenIds, c.EosTokenIds);
            Assert.Equal("float32", c.TorchDtype);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_fp32_checkpoint_loads_as_bf16_and_fp16_with_logits_close_to_fp32()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        string directory = TestModels.TempDirectory("dtypes");
        try
        {
            using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
            model.SavePretrained(directory);
            var input = tensor(Ids, [1, Ids.Length]);
            var reference = model.forward(input);
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            {
                using var loaded = CausalLM.Load(directory, dtype, CPU);
                Assert.All(loaded.parameters(), p => Assert.Equal(dtype, p.dtype));
                var logits = loaded.forward(input);
                Assert.Equal(dtype, logits.dtype);
                double relative = (logits.to(ScalarType.Float32) - reference).abs().max().item<float>() / reference.abs().max().item<float>();
                Assert.True(relative < 5e-2, $"{dtype}: relative error {relative:E2}");
                Assert.True(relative > 0, $"{dtype}: should differ from fp32 at all");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void ForwardHidden_through_the_lm_head_equals_forward()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Qwen3));
        var input = tensor(Ids, [1, Ids.Length]);
        var hidden = model.ForwardHidden(input);
        Assert.Equal([1L, Ids.Length, model.Config.HiddenSize], hidden.shape);
        Assert.True(model.LmHead.call(hidden).Same(model.forward(input)));
    }

    [Fact]
    public void Projections_can_be_wrapped_and_the_wrapper_is_called_and_named_in_the_state_dict()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
        var input = tensor(Ids, [1, Ids.Length]);
        var before = model.forward(input);
        var wrapped = new List<string>();
        model.ReplaceProjections(
            name => name.EndsWith("q_proj", StringComparison.Ordinal) || name.EndsWith("down_proj", StringComparison.Ordinal),
            (name, inner) =>
            {
                wrapped.Add(name);
                return new ScaledProjection(inner, 1.0);
            });
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj"], wrapped);
        Assert.Contains("model.layers.0.self_attn.q_proj.inner.weight", model.state_dict().Keys);
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.weight", model.state_dict().Keys);
        Assert.IsType<ScaledProjection>(model.Layers[1].SelfAttention.QProj);
        Assert.True(model.forward(input).Same(before), "an identity wrapper must not change the logits");

        model.Layers[0].ReplaceProjection("mlp.down_proj", inner => new ScaledProjection(inner, 0.0));
        Assert.False(model.forward(input).Same(before), "zeroing a projection must change the logits");
        Assert.Throws<ArgumentException>(() => model.Layers[0].ReplaceProjection("c_attn", inner => inner));
    }

    [Fact]
    public void Loading_a_checkpoint_that_disagrees_with_its_config_names_the_tensor()
    {
        _ = TorchFixture.Runtime;
        string directory = TestModels.TempDirectory("mismatch");
        try
        {
            var config = TestModels.Config(ModelFamily.Llama);
            using (var model = TestModels.Create(config))
            {
                model.SavePretrained(directory);
            }

            (config with { IntermediateSize = 96 }).Save(directory);
            var error = Assert.Throws<SharpTuneException>(() => CausalLM.Load(directory, ScalarType.Float32, CPU));
            Assert.Contains("model.layers.0.mlp.gate_proj.weight", error.Message);
            Assert.Contains("[128, 64]", error.Message);

            (config with { NumHiddenLayers = 3 }).Save(directory);
            error = Assert.Throws<SharpTuneException>(() => CausalLM.Load(directory, ScalarType.Float32, CPU));
            Assert.Contains("no tensor 'model.layers.2.self_attn.q_proj.weight'", error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed class ScaledProjection : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly double _scale;

        public ScaledProjection(nn.Module<Tensor, Tensor> inner, double scale)
            : base(nameof(ScaledProjection))
        {
            this.inner = inner;
            _scale = scale;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => inner.call(input) * _scale;
    }
}
