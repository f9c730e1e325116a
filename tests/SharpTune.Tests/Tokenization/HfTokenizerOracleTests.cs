using System.Text;

using SharpTune.Models.Tokenization;

namespace SharpTune.Tests.Tokenization;

/// <summary>
/// Token ids and decoded text against Hugging Face tokenizers 0.23.2 / transformers 5.17 (fixtures written by
/// tests/oracles/tokenizer_ids.py on the GPU host) for every line of tests/fixtures/tokenizer/corpus.jsonl:
/// the default (transformers) mode against AutoTokenizer, the TokenizersLibrary mode against Tokenizer.from_file.
/// </summary>
public sealed class HfTokenizerOracleTests
{
    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    public void Ids_and_decoded_text_equal_hugging_face_on_the_whole_corpus(string name)
    {
        string path = TokenizerCorpus.ExpectedPath(name);
        Assert.SkipUnless(File.Exists(path), $"{path} is missing: run tests/oracles/tokenizer_ids.py on a host with tokenizers+transformers and commit its output");
        var tokenizer = TokenizerFiles.Load(name);
        var library = TokenizerFiles.Load(name, TokenizerCompatibility.TokenizersLibrary);
        var texts = TokenizerCorpus.Texts().ToDictionary(t => t.Id, t => t.Text);
        var expected = TokenizerCorpus.ReadExpected(name);
        Assert.Equal(texts.Count, expected.Count);

        var failures = new StringBuilder();
        foreach (var row in expected)
        {
            string text = texts[row.Id];
            // transformers: with special tokens, and the same without the prefix/suffix it adds.
            Check(failures, row.Id, "ids_special", row.IdsSpecial, tokenizer.Encode(text, addSpecialTokens: true));
            Assert.Equal(tokenizer.PrefixIds, row.IdsSpecial[..tokenizer.PrefixIds.Count]);
            Check(failures, row.Id, "ids_special without specials", row.IdsSpecial[tokenizer.PrefixIds.Count..^tokenizer.SuffixIds.Count], tokenizer.Encode(text, addSpecialTokens: false));
            // the tokenizers library on tokenizer.json as written.
            Check(failures, row.Id, "ids (tokenizers)", row.Ids, library.Encode(text, addSpecialTokens: false));
            Check(failures, row.Id, "tokenizers_ids_special", row.TokenizersIdsSpecial, library.Encode(text, addSpecialTokens: true));
            CheckText(failures, row.Id, "decoded", row.Decoded, tokenizer.Decode(row.IdsSpecial));
            CheckText(failures, row.Id, "decoded_special", row.DecodedSpecial, tokenizer.Decode(row.IdsSpecial, skipSpecialTokens: false));
        }

        Assert.True(failures.Length == 0, $"{name} differs from Hugging Face:\n{failures}");
    }

    private static void Check(StringBuilder failures, int id, string what, int[] expected, IReadOnlyList<int> actual)
    {
        if (!expected.SequenceEqual(actual))
        {
            failures.AppendLine($"row {id} {what}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
        }
    }

    private static void CheckText(StringBuilder failures, int id, string what, string expected, string actual)
    {
        if (expected != actual)
        {
            failures.AppendLine($"row {id} {what}: expected \"{expected}\" got \"{actual}\"");
        }
    }
}
