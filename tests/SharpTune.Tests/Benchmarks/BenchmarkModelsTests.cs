using SharpTune.Benchmarks;
using SharpTune.Models;

namespace SharpTune.Tests.Benchmarks;

public sealed class BenchmarkModelsTests
{
    // The fields of each model's published config.json on the Hugging Face Hub (meta-llama/Llama-3.1-8B,
    // meta-llama/Llama-3.2-1B, meta-llama/Llama-3.2-3B, Qwen/Qwen2.5-7B), copied as published.
    public static TheoryData<string, string> Published => new()
    {
        { "llama3-8b", """{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":false,"max_position_embeddings":131072}""" },
        { "llama3.2-1b", """{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":2048,"intermediate_size":8192,"num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,"vocab_size":128256,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":true,"max_position_embeddings":131072}""" },
        { "llama3.2-3b", """{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":3072,"intermediate_size":8192,"num_hidden_layers":28,"num_attention_heads":24,"num_key_value_heads":8,"head_dim":128,"vocab_size":128256,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":true,"max_position_embeddings":131072}""" },
        { "qwen2.5-7b", """{"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"hidden_size":3584,"intermediate_size":18944,"num_hidden_layers":28,"num_attention_heads":28,"num_key_value_heads":4,"vocab_size":152064,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"tie_word_embeddings":false,"max_position_embeddings":131072,"use_sliding_window":false}""" },
    };

    [Theory]
    [MemberData(nameof(Published))]
    public void Shapes_match_the_published_config(string name, string publishedJson)
    {
        var expected = ModelConfig.Parse(publishedJson, name);
        var actual = BenchmarkModels.Config(name);
        Assert.Equal(expected.Family, actual.Family);
        Assert.Equal(expected.HiddenSize, actual.HiddenSize);
        Assert.Equal(expected.NumHiddenLayers, actual.NumHiddenLayers);
        Assert.Equal(expected.NumAttentionHeads, actual.NumAttentionHeads);
        Assert.Equal(expected.NumKeyValueHeads, actual.NumKeyValueHeads);
        Assert.Equal(expected.HeadDim, actual.HeadDim);
        Assert.Equal(expected.IntermediateSize, actual.IntermediateSize);
        Assert.Equal(expected.VocabSize, actual.VocabSize);
        Assert.Equal(expected.TieWordEmbeddings, actual.TieWordEmbeddings);
        Assert.Equal(expected.QkvBias, actual.QkvBias);
        Assert.Equal(expected.RmsNormEps, actual.RmsNormEps);
        Assert.Equal(expected.Rope, actual.Rope);
    }

    [Theory]
    [InlineData("llama3-8b", 8.030e9)]   // Llama 3.1 8B: 8,030,261,248 parameters
    [InlineData("llama3.2-1b", 1.236e9)] // Llama 3.2 1B: 1,235,814,400
    [InlineData("llama3.2-3b", 3.213e9)] // Llama 3.2 3B: 3,212,749,824
    [InlineData("qwen2.5-7b", 7.616e9)]  // Qwen2.5 7B: 7,615,616,512
    public void Dense_parameter_count_matches_the_published_size(string name, double published)
    {
        long count = BenchmarkModels.DenseParameters(BenchmarkModels.Config(name));
        Assert.InRange(count, published * 0.999, published * 1.001);
    }

    [Fact]
    public void Unknown_model_is_one_line_naming_the_known_ones()
    {
        var e = Assert.Throws<SharpTuneException>(() => BenchmarkModels.Config("llama9"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("llama3-8b", e.Message);
    }
}
