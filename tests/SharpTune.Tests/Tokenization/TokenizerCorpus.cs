using System.Text.Json;

namespace SharpTune.Tests.Tokenization;

/// <summary>tests/fixtures/tokenizer/corpus.jsonl and the oracle's expected_&lt;name&gt;.jsonl (tests/oracles/tokenizer_ids.py).</summary>
internal static class TokenizerCorpus
{
    public sealed record Expected(int Id, int[] Ids, int[] IdsSpecial, int[] TokenizersIdsSpecial, string Decoded, string DecodedSpecial);

    public static IReadOnlyList<(int Id, string Text)> Texts() =>
        File.ReadLines(RepositoryPaths.Fixture("tokenizer", "corpus.jsonl"))
            .Where(line => line.Length > 0)
            .Select(line =>
            {
                using var json = JsonDocument.Parse(line);
                return (json.RootElement.GetProperty("id").GetInt32(), json.RootElement.GetProperty("text").GetString()!);
            })
            .ToList();

    public static string ExpectedPath(string name) => RepositoryPaths.Fixture("tokenizer", $"expected_{name}.jsonl");

    public static IReadOnlyList<Expected> ReadExpected(string name) =>
        File.ReadLines(ExpectedPath(name))
            .Where(line => line.Length > 0)
            .Select(line =>
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                int[] Ids(string property) => root.GetProperty(property).EnumerateArray().Select(e => e.GetInt32()).ToArray();
                return new Expected(root.GetProperty("id").GetInt32(), Ids("ids"), Ids("ids_special"), Ids("tokenizers_ids_special"),
                    root.GetProperty("decoded").GetString()!, root.GetProperty("decoded_special").GetString()!);
            })
            .ToList();
}
