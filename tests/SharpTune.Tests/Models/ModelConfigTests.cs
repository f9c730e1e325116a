using SharpTune.Models;

namespace SharpTune.Tests.Models;

public sealed class ModelConfigTests
{
    // Field for field as published for meta-llama/Llama-3.1-8B (transformers 4.x form).
    private const string Llama31 = """
        {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 128000,
         "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
         "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
         "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
         "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
         "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.43.0.dev0",
         "use_cache": true, "vocab_size": 128256}
        """;

    [Fact]
    public void A_llama_3_1_config_reads_sizes_gqa_and_llama3_rope_scaling()
    {
        var c = ModelConfig.Parse(Llama31);
        Assert.Equal(ModelFamily.Llama, c.Family);
        Assert.Equal("LlamaForCausalLM", c.Architecture);
        Assert.Equal((128256, 4096, 14336, 32, 32, 8, 128), (c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim));
        Assert.Equal(4, c.NumKeyValueGroups);
        Assert.Equal(new RopeScaling(RopeScaling.Llama3, 500000.0, 8.0, 1.0, 4.0, 8192), c.Rope);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.False(c.TieWordEmbeddings || c.QkvBias || c.OutputBias || c.MlpBias || c.QkNorm);
        Assert.Equal(128000, c.BosTokenId);
        Assert.Equal([128001], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal("4.43.0.dev0", c.Raw["transformers_version"]!.GetValue<string>());
    }

    [Fact]
    public void The_transformers_5_form_with_rope_parameters_and_dtype_reads_the_same()
    {
        string v5 = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "head_dim": 16,
             "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             "dtype": "float32", "eos_token_id": [128001, 128009], "tie_word_embeddings": true}
            """;
        var c = ModelConfig.Parse(v5);
        Assert.Equal(new RopeScaling(RopeScaling.Llama3, 500000.0, 32.0, 1.0, 4.0, 8192), c.Rope);
        Assert.Equal("float32", c.TorchDtype);
        Assert.Equal([128001, 128009], c.EosTokenIds);
        Assert.True(c.TieWordEmbeddings);
    }

    [Fact]
    public void Family_switches_follow_transformers_for_qwen2_qwen3_mistral()
    {
        string Base(string type, string extra) => $$"""
            {"model_type": "{{type}}", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512{{extra}}}
            """;
        var qwen2 = ModelConfig.Parse(Base("qwen2", ""));
        Assert.True(qwen2.QkvBias);
        Assert.False(qwen2.OutputBias || qwen2.QkNorm);
        Assert.Equal("Qwen2ForCausalLM", qwen2.Architecture);

        var qwen3 = ModelConfig.Parse(Base("qwen3", ", \"head_dim\": 32, \"attention_bias\": true"));
        Assert.True(qwen3.QkNorm && qwen3.QkvBias && qwen3.OutputBias);
        Assert.Equal(32, qwen3.HeadDim);
        Assert.Equal(128, ModelConfig.Parse(Base("qwen3", "")).HeadDim);

        var mistral = ModelConfig.Parse(Base("mistral", ", \"sliding_window\": 4096, \"head_dim\": null, \"attention_bias\": true"));
        Assert.Equal(4096, mistral.SlidingWindow);
        Assert.Equal(16, mistral.HeadDim);
        Assert.False(mistral.QkvBias);
        Assert.Null(ModelConfig.Parse(Base("mistral", ", \"sliding_window\": null")).SlidingWindow);
        Assert.Null(qwen2.SlidingWindow);
    }

    [Theory]
    [InlineData("{\"model_type\": \"gpt2\"}", "model_type 'gpt2' is not supported")]
    [InlineData("{\"hidden_size\": 8}", "missing field 'model_type'")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, \"num_key_value_heads\": 3, \"vocab_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1}", "not a multiple")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": \"64\"}", "field 'hidden_size' is \"64\", expected an integer")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_act\": \"gelu\"}", "hidden_act 'gelu'")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}", "rope type 'yarn'")]
    [InlineData("{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1, \"use_sliding_window\": true}", "use_sliding_window")]
    [InlineData("{not json", "not valid JSON")]
    public void Unsupported_or_malformed_configs_are_refused_with_the_reason(string json, string expected)
    {
        var error = Assert.Throws<SharpTuneException>(() => ModelConfig.Parse(json, "dir/config.json"));
        Assert.StartsWith("dir/config.json: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ToJson_round_trips_and_keeps_unknown_fields()
    {
        var c = ModelConfig.Parse(Llama31);
        var again = ModelConfig.Parse(c.ToJson());
        Assert.Equal((c.Family, c.VocabSize, c.HeadDim, c.Rope, c.TieWordEmbeddings, c.BosTokenId), (again.Family, again.VocabSize, again.HeadDim, again.Rope, again.TieWordEmbeddings, again.BosTokenId));
        Assert.Equal(c.EosTokenIds, again.EosTokenIds);
        Assert.Equal(1, again.Raw["pretraining_tp"]!.GetValue<int>());
        foreach (var family in Enum.GetValues<ModelFamily>())
        {
            var tiny = TinyModelFactory.Config(family, TinyModelSize.Tiny, 256, 1, [2, 3]);
            var parsed = ModelConfig.Parse(tiny.ToJson());
            Assert.Equal((tiny.Family, tiny.HeadDim, tiny.Rope, tiny.QkvBias, tiny.OutputBias, tiny.QkNorm, tiny.SlidingWindow, tiny.TieWordEmbeddings), (parsed.Family, parsed.HeadDim, parsed.Rope, parsed.QkvBias, parsed.OutputBias, parsed.QkNorm, parsed.SlidingWindow, parsed.TieWordEmbeddings));
            Assert.Equal([2, 3], parsed.EosTokenIds);
        }
    }

    [Fact]
    public void Generation_config_reads_eos_lists_and_sampling_defaults()
    {
        var g = GenerationConfig.Parse("""{"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true, "temperature": 0.6, "top_p": 0.9}""");
        Assert.Equal([128001, 128008, 128009], g.EosTokenIds);
        Assert.True(g.DoSample);
        Assert.Equal(0.6, g.Temperature);
        Assert.Equal(0.9, g.TopP);
        Assert.Null(g.TopK);
        Assert.Equal([7], GenerationConfig.Parse(new GenerationConfig { EosTokenIds = [7] }.ToJson()).EosTokenIds);
    }
}
