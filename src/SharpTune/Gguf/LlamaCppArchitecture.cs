namespace SharpTune.Gguf;

/// <summary>
/// How a Hugging Face architecture becomes a llama.cpp one: the GGUF architecture name (prefix of the hyperparameter
/// keys), whether q/k projections are permuted from Hugging Face's rotate-half rope layout to llama.cpp's interleaved
/// one (convert_hf_to_gguf's LlamaModel.permute; Qwen models use NeoX rope in llama.cpp and stay as they are), and
/// whether q/k RMS norms exist.
/// </summary>
public sealed record LlamaCppArchitecture(string HfModelType, string GgufName, bool PermuteQueryKey, bool HasQueryKeyNorm)
{
    private static readonly LlamaCppArchitecture[] Table =
    [
        new("llama", "llama", PermuteQueryKey: true, HasQueryKeyNorm: false),
        new("mistral", "llama", PermuteQueryKey: true, HasQueryKeyNorm: false),
        new("qwen2", "qwen2", PermuteQueryKey: false, HasQueryKeyNorm: false),
        new("qwen3", "qwen3", PermuteQueryKey: false, HasQueryKeyNorm: true),
    ];

    public static IReadOnlyList<string> SupportedModelTypes { get; } = Table.Select(a => a.HfModelType).ToArray();

    public static LlamaCppArchitecture For(string hfModelType) =>
        Table.FirstOrDefault(a => a.HfModelType == hfModelType)
        ?? throw new SharpTuneException($"model_type '{hfModelType}' cannot be exported to GGUF; supported: {string.Join(", ", SupportedModelTypes)}");

    /// <summary>
    /// Row order llama.cpp expects for a q or k projection: within each head, Hugging Face keeps the two halves of
    /// the rotated pairs apart (rotate-half); llama.cpp wants them interleaved. Returns, for each output row, the
    /// source row (the inverse of nothing: the same mapping convert_hf_to_gguf.py applies).
    /// </summary>
    public static int[] PermutedRowSources(int rows, int headCount)
    {
        int headRows = rows / headCount;
        int half = headRows / 2;
        var source = new int[rows];
        for (int h = 0; h < headCount; h++)
        {
            for (int i = 0; i < half; i++)
            {
                for (int t = 0; t < 2; t++)
                {
                    source[h * headRows + i * 2 + t] = h * headRows + t * half + i;
                }
            }
        }

        return source;
    }
}
