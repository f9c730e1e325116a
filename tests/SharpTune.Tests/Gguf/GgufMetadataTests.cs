using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

[Collection(TinyModelCollection.Name)]
public sealed class GgufMetadataTests(TinyModelFixture models)
{
    [Fact]
    public void Llama_export_has_llama_cpp_hyperparameters_tokenizer_and_rope_factors()
    {
        var entry = models.Get("llama3");
        using var reader = GgufReader.Open(entry.F32Gguf);
        string S(string key) => reader.Value(key).AsString();
        long I(string key) => reader.Value(key).AsInt64();
        Assert.Equal("llama", S("general.architecture"));
        Assert.Equal("hf", S("general.name"));
        Assert.Equal(0, I("general.file_type"));
        Assert.Equal(2, I("general.quantization_version"));
        Assert.Equal(8, I("llama.block_count"));
        Assert.Equal(2048, I("llama.context_length"));
        Assert.Equal(256, I("llama.embedding_length"));
        Assert.Equal(512, I("llama.feed_forward_length"));
        Assert.Equal(4, I("llama.attention.head_count"));
        Assert.Equal(2, I("llama.attention.head_count_kv"));
        Assert.Equal(64, I("llama.rope.dimension_count"));
        Assert.Equal(500000f, (float)reader.Value("llama.rope.freq_base").AsDouble());
        Assert.Equal(1e-5f, (float)reader.Value("llama.attention.layer_norm_rms_epsilon").AsDouble());
        Assert.Equal(GgufValueType.UInt32, reader.Value("llama.block_count").Type);

        Assert.Equal("gpt2", S("tokenizer.ggml.model"));
        Assert.Equal("llama-bpe", S("tokenizer.ggml.pre"));
        var tokens = reader.Value("tokenizer.ggml.tokens").AsStringArray();
        Assert.Equal(320, tokens.Count);
        Assert.Equal(TinyHfModel.ByteLevelAlphabet()[32], tokens[32]); // "Ġ"
        Assert.Equal("<|begin_of_text|>", tokens[256]);
        Assert.Equal("[PAD300]", tokens[300]);
        var types = reader.Value("tokenizer.ggml.token_type").AsArray().Select(v => (GgufTokenType)v.AsInt64()).ToArray();
        Assert.Equal(GgufTokenType.Normal, types[65]);
        Assert.Equal(GgufTokenType.Control, types[260]);
        Assert.Equal(GgufTokenType.Unused, types[300]);
        Assert.Equal(["\u0120 t", "h e", "\u0120t he", "l l", "\u0120 w", "o r"], reader.Value("tokenizer.ggml.merges").AsStringArray());
        Assert.Equal(256, I("tokenizer.ggml.bos_token_id"));
        Assert.Equal(260, I("tokenizer.ggml.eos_token_id")); // tokenizer_config's eos_token wins over config.json's
        Assert.False(reader.Metadata.ContainsKey("tokenizer.ggml.add_bos_token")); // undetermined: llama.cpp's default applies, as with convert_hf_to_gguf
        Assert.Contains("<|start_header_id|>", S("tokenizer.chat_template"));

        // rope_freqs as convert_hf_to_gguf.py computes it for llama3 scaling (factor 8, low 1, high 4, original 64).
        var factors = reader.ReadTensorAsFloat32("rope_freqs.weight");
        Assert.Equal(32, factors.Length);
        Assert.Equal(1f, factors[0]);
        Assert.Equal(8f, factors[^1]);
        Assert.Contains(factors, f => f is > 1 and < 8);
        Assert.True(factors.Zip(factors.Skip(1)).All(p => p.First <= p.Second));

        Assert.Equal(
            ["token_embd.weight", "rope_freqs.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
             "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"],
            reader.Tensors.Take(11).Select(t => t.Name));
        Assert.Equal(["output_norm.weight", "output.weight"], reader.Tensors.TakeLast(2).Select(t => t.Name));
        Assert.Equal(new long[] { 256, 320 }, reader.Tensor("token_embd.weight").Dimensions);
        Assert.Equal(new long[] { 256, 128 }, reader.Tensor("blk.0.attn_k.weight").Dimensions);
    }

    [Fact]
    public void Qwen3_export_has_head_dim_key_lengths_q_k_norms_and_qwen2_pre_tokenizer()
    {
        var entry = models.Get("qwen3");
        using var reader = GgufReader.Open(entry.F32Gguf);
        Assert.Equal("qwen3", reader.Value("general.architecture").AsString());
        Assert.Equal(64, reader.Value("qwen3.attention.key_length").AsInt64());
        Assert.Equal(64, reader.Value("qwen3.attention.value_length").AsInt64());
        Assert.Equal(8, reader.Value("qwen3.attention.head_count").AsInt64());
        Assert.Equal("qwen2", reader.Value("tokenizer.ggml.pre").AsString());
        Assert.False(reader.Value("tokenizer.ggml.add_bos_token").AsBool());
        Assert.Equal(256, reader.Value("tokenizer.ggml.padding_token_id").AsInt64());
        Assert.Equal(new long[] { 64 }, reader.Tensor("blk.3.attn_q_norm.weight").Dimensions);
        Assert.Equal(new long[] { 256, 512 }, reader.Tensor("blk.3.attn_q.weight").Dimensions);
        Assert.False(reader.TryGetTensor("rope_freqs.weight", out _));
    }

    [Fact]
    public void Tied_embeddings_write_no_output_tensor_and_sentencepiece_tokenizers_become_llama_vocabularies()
    {
        using (var tied = GgufReader.Open(models.Get("qwen2").F32Gguf))
        {
            Assert.False(tied.TryGetTensor("output.weight", out _));
            Assert.Equal(new long[] { 256 }, tied.Tensor("blk.0.attn_q.bias").Dimensions);
        }

        using var spm = GgufReader.Open(models.Get("mistral").F32Gguf);
        Assert.Equal("llama", spm.Value("general.architecture").AsString());
        Assert.Equal("llama", spm.Value("tokenizer.ggml.model").AsString());
        var tokens = spm.Value("tokenizer.ggml.tokens").AsStringArray();
        var types = spm.Value("tokenizer.ggml.token_type").AsArray().Select(v => (GgufTokenType)v.AsInt64()).ToArray();
        var scores = spm.Value("tokenizer.ggml.scores").AsArray().Select(v => (float)v.AsDouble()).ToArray();
        Assert.Equal(GgufTokenType.Unknown, types[0]);
        Assert.Equal(GgufTokenType.Control, types[1]);
        Assert.Equal("<0x0A>", tokens[13]);
        Assert.Equal(GgufTokenType.Byte, types[13]);
        int the = tokens.ToList().IndexOf("\u2581the"), t = tokens.ToList().IndexOf("\u2581t");
        Assert.True(scores[t] > scores[the], "a token made by an earlier merge scores higher");
        Assert.True(spm.Value("tokenizer.ggml.add_bos_token").AsBool());
        Assert.Equal(1, spm.Value("tokenizer.ggml.bos_token_id").AsInt64());
    }

    [Fact]
    public void Llama_cpp_tokenizes_with_our_vocabularies_merges_and_pre_tokenizer()
    {
        using var bpe = new LlamaCppRunner(models.Get("llama3").F32Gguf);
        var tokens = bpe.Tokenize(" the world", addBos: true);
        // <|begin_of_text|>, "Ġthe" (merged through Ġt + he), "Ġw" + "or" merged? no: "Ġw", "or", "l", "d"
        var vocab = GgufReader.Open(models.Get("llama3").F32Gguf);
        using (vocab)
        {
            var list = vocab.Value("tokenizer.ggml.tokens").AsStringArray().ToList();
            Assert.Equal(new[] { 256, list.IndexOf("\u0120the"), list.IndexOf("\u0120w"), list.IndexOf("or"), 'l', 'd' }, tokens);
        }

        using var spm = new LlamaCppRunner(models.Get("mistral").F32Gguf);
        using var spmVocab = GgufReader.Open(models.Get("mistral").F32Gguf);
        var spmList = spmVocab.Value("tokenizer.ggml.tokens").AsStringArray().ToList();
        Assert.Equal(new[] { 1, spmList.IndexOf("\u2581the"), spmList.IndexOf("\u2581world") }, spm.Tokenize("the world", addBos: true));
    }
}
