using System.Text;
using System.Text.Json;
using SharpTune.Models.Tokenization;

namespace SharpTune.Tests.Tokenization;

/// <summary>
/// Token ids against a second independent implementation, transformers.js (fixtures written on a CPU machine by
/// tests/oracles/tokenizer_ids_transformersjs.js); the primary oracle is Hugging Face's own (HfTokenizerOracleTests).
/// </summary>
public sealed class TransformersJsTokenizerTests
{
    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    public void Ids_equal_transformers_js_on_the_whole_corpus(string name)
    {
        string path = RepositoryPaths.Fixture("tokenizer", $"expected_transformersjs_{name}.jsonl");
        var tokenizer = TokenizerFiles.Load(name, TokenizerCompatibility.TokenizersLibrary); // transformers.js keeps the legacy Llama normalizer
        var texts = TokenizerCorpus.Texts().ToDictionary(t => t.Id, t => t.Text);
        var failures = new StringBuilder();
        int rows = 0;
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            int id = root.GetProperty("id").GetInt32();
            foreach (var (property, special) in new[] { ("ids", false), ("ids_special", true) })
            {
                var expected = root.GetProperty(property).EnumerateArray().Select(e => e.GetInt32()).ToArray();
                var actual = tokenizer.Encode(texts[id], special);
                if (!expected.SequenceEqual(actual))
                {
                    failures.AppendLine($"row {id} {property}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
                }
            }

            rows++;
        }

        Assert.Equal(texts.Count, rows);
        Assert.True(failures.Length == 0, failures.ToString());
    }
}
