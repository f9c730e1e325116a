namespace SharpTune.Gguf;

/// <summary>Names (as users type them: <c>q4_k_m</c>, <c>f16</c>) and default tensor types of <see cref="GgufFileType"/>.</summary>
public static class GgufFileTypes
{
    private static readonly (GgufFileType FileType, string Name, GgmlType DefaultType)[] Table =
    [
        (GgufFileType.F32, "f32", GgmlType.F32),
        (GgufFileType.F16, "f16", GgmlType.F16),
        (GgufFileType.BF16, "bf16", GgmlType.BF16),
        (GgufFileType.Q8_0, "q8_0", GgmlType.Q8_0),
        (GgufFileType.Q4_0, "q4_0", GgmlType.Q4_0),
        (GgufFileType.Q4_K_S, "q4_k_s", GgmlType.Q4_K),
        (GgufFileType.Q4_K_M, "q4_k_m", GgmlType.Q4_K),
        (GgufFileType.Q5_K_S, "q5_k_s", GgmlType.Q5_K),
        (GgufFileType.Q5_K_M, "q5_k_m", GgmlType.Q5_K),
        (GgufFileType.Q6_K, "q6_k", GgmlType.Q6_K),
    ];

    public static IReadOnlyList<string> Names { get; } = Table.Select(t => t.Name).ToArray();

    public static string Name(this GgufFileType fileType) => Table.First(t => t.FileType == fileType).Name;

    /// <summary>The tensor type most weights get (before the mix's per-tensor rules).</summary>
    public static GgmlType DefaultTensorType(this GgufFileType fileType) => Table.First(t => t.FileType == fileType).DefaultType;

    /// <summary>Whether weights are quantized (blocks with scales) rather than plain floats.</summary>
    public static bool IsQuantized(this GgufFileType fileType) => fileType is not (GgufFileType.F32 or GgufFileType.F16 or GgufFileType.BF16);

    public static bool TryParse(string name, out GgufFileType fileType)
    {
        foreach (var entry in Table)
        {
            if (string.Equals(entry.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                fileType = entry.FileType;
                return true;
            }
        }

        fileType = default;
        return false;
    }

    public static GgufFileType Parse(string name) => TryParse(name, out var fileType)
        ? fileType
        : throw new SharpTuneException($"unknown GGUF quantization '{name}'; use one of: {string.Join(", ", Names)}");
}
