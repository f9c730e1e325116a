using System.Text;
using SharpTune.Models.Tokenization;

namespace SharpTune.Tests.Tokenization;

/// <summary>Behaviour checkable by hand from each tokenizer's own vocabulary and config files.</summary>
public sealed class HfTokenizerTests
{
    private static int Id(HfTokenizer tokenizer, string token) =>
        tokenizer.TokenToId(token) ?? throw new InvalidOperationException($"'{token}' is not in the vocabulary");

    [Fact]
    public void Llama3_is_byte_level_with_spaces_as_G_and_no_bos_because_its_post_processor_adds_none()
    {
        var t = TokenizerFiles.Load("llama3");
        Assert.Equal(TokenizerKind.ByteLevelBpe, t.Kind);
        Assert.Equal(128256, t.VocabSize);
        Assert.Equal([Id(t, "Hello"), Id(t, "Ġworld")], t.Encode("Hello world", addSpecialTokens: false));
        Assert.Equal([Id(t, "ä½ł"), Id(t, "å¥½")], t.Encode("你好", addSpecialTokens: false)); // UTF-8 bytes in GPT-2's alphabet
        Assert.Equal([Id(t, "Hello"), Id(t, "Ġworld")], t.Encode("Hello world")); // tokenizer.json's post_processor is ByteLevel
        Assert.Equal(Id(t, "<|begin_of_text|>"), t.BosTokenId);
        Assert.Equal(Id(t, "<|end_of_text|>"), t.EosTokenIds[0]);
        Assert.Contains(Id(t, "<|eot_id|>"), t.EosTokenIds);
        Assert.Null(t.PadTokenId);
        Assert.Contains("<|start_header_id|>", t.ChatTemplate);
    }

    [Fact]
    public void Special_tokens_in_text_are_single_tokens()
    {
        var t = TokenizerFiles.Load("llama3");
        Assert.Equal(
            [Id(t, "<|start_header_id|>"), Id(t, "user"), Id(t, "<|end_header_id|>"), Id(t, "ĊĊ"), Id(t, "Hi"), Id(t, "<|eot_id|>")],
            t.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addSpecialTokens: false));
        var q = TokenizerFiles.Load("qwen3");
        Assert.Equal([Id(q, "<|im_start|>"), Id(q, "user"), Id(q, "Ċ"), Id(q, "ä½łå¥½"), Id(q, "<|im_end|>")],
            q.Encode("<|im_start|>user\n你好<|im_end|>"));
        Assert.Equal([Id(q, "<think>")], q.Encode("<think>")); // an added token that is not special
        Assert.Equal("<think>", q.Decode(q.Encode("<think>"))); // ... so decoding keeps it
        Assert.Equal("", q.Decode([Id(q, "<|im_end|>")])); // special tokens are skipped by default
        Assert.Equal("<|im_end|>", q.Decode([Id(q, "<|im_end|>")], skipSpecialTokens: false));
    }

    [Fact]
    public void Qwen3_has_no_bos_its_eos_is_im_end_and_pad_is_endoftext()
    {
        var t = TokenizerFiles.Load("qwen3");
        Assert.Equal(TokenizerKind.ByteLevelBpe, t.Kind);
        Assert.Null(t.BosTokenId);
        Assert.Equal(Id(t, "<|im_end|>"), t.EosTokenIds[0]);
        Assert.Equal(Id(t, "<|endoftext|>"), t.PadTokenId);
        Assert.Equal([Id(t, "Hello"), Id(t, "Ġworld")], t.Encode("Hello world"));
        Assert.Equal(t.Encode("café"), t.Encode("cafe\u0301")); // NFC normalizer
    }

    [Fact]
    public void Llama2_is_sentencepiece_with_bos_a_space_marker_and_byte_fallback()
    {
        var t = TokenizerFiles.Load("llama2");
        Assert.Equal(TokenizerKind.SentencePieceBpe, t.Kind);
        Assert.Equal(32000, t.VocabSize);
        Assert.Equal(Id(t, "<s>"), t.BosTokenId);
        Assert.Equal([Id(t, "</s>")], t.EosTokenIds);
        Assert.Null(t.PadTokenId);
        Assert.Null(t.ChatTemplate);
        Assert.Equal([Id(t, "<s>"), Id(t, "▁Hello"), Id(t, "▁world")], t.Encode("Hello world"));
        Assert.Equal([Id(t, "▁Hello"), Id(t, "▁world")], t.Encode("Hello world", addSpecialTokens: false));
        // U+20000 is not in the vocabulary: its four UTF-8 bytes F0 A0 80 80 become <0xXX> tokens.
        Assert.Equal([Id(t, "▁"), Id(t, "<0xF0>"), Id(t, "<0xA0>"), Id(t, "<0x80>"), Id(t, "<0x80>")], t.Encode("\U00020000", addSpecialTokens: false));
        Assert.Equal("\U00020000", t.Decode(t.Encode("\U00020000")));
        Assert.Equal("Hello world", t.Decode(t.Encode("Hello world")));
        Assert.Equal("<s> Hello world", t.Decode(t.Encode("Hello world"), skipSpecialTokens: false));
    }

    [Fact]
    public void Llama2_follows_transformers_by_default_and_the_legacy_normalizer_on_request()
    {
        var t = TokenizerFiles.Load("llama2");
        var legacy = TokenizerFiles.Load("llama2", TokenizerCompatibility.TokenizersLibrary);
        // " and" after a special token: transformers writes "▁and"; tokenizer.json's Prepend normalizer makes "▁▁and".
        Assert.Equal([Id(t, "<s>"), Id(t, "▁and")], t.Encode("<s> and", addSpecialTokens: false));
        Assert.Equal([Id(t, "<s>"), Id(t, "▁"), Id(t, "▁and")], legacy.Encode("<s> and", addSpecialTokens: false));
        Assert.Equal([Id(t, "▁")], t.Encode(" ", addSpecialTokens: false));
        Assert.Equal([Id(t, "▁▁")], legacy.Encode(" ", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    public void Decode_of_encode_gives_the_text_back_for_the_corpus(string name)
    {
        var tokenizer = TokenizerFiles.Load(name);
        string[] markers = ["<|", "<s>", "</s>", "<unk>", "<think>", "</think>"];
        var failures = new StringBuilder();
        int checkedRows = 0;
        foreach (var (id, text) in TokenizerCorpus.Texts())
        {
            bool normalizes = name == "qwen3" && text != text.Normalize(NormalizationForm.FormC);
            // SentencePiece: "▁" is prepended only where missing and the decoder strips one leading space, so text
            // that starts with a space comes back without it (as in transformers).
            normalizes |= name == "llama2" && text.StartsWith(' ');
            if (normalizes || markers.Any(m => text.Contains(m, StringComparison.Ordinal)))
            {
                continue;
            }

            checkedRows++;
            string back = tokenizer.Decode(tokenizer.Encode(text));
            if (back != text)
            {
                failures.AppendLine($"row {id}: \"{text}\" came back as \"{back}\"");
            }
        }

        Assert.True(checkedRows > 30);
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void Tokens_and_merges_are_exposed_for_gguf_export()
    {
        var t = TokenizerFiles.Load("qwen3");
        Assert.Equal(t.VocabSize, t.Tokens.Count);
        Assert.Equal("<|im_end|>", t.Tokens[Id(t, "<|im_end|>")]);
        Assert.Equal("Ġ Ġ", t.Merges[0]); // tokenizer.json stores qwen3's merges as pairs
        Assert.Equal("Ġ Ġ", TokenizerFiles.Load("llama3").Merges[0]); // ... and llama3's as "a b" strings
    }

    [Fact]
    public void A_missing_tokenizer_json_is_a_clear_user_error()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharptune-no-tokenizer-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<SharpTuneException>(() => HfTokenizer.Load(dir));
        Assert.Contains("tokenizer.json", error.Message);
    }
}
