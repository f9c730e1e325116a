namespace SharpTune.Gguf;

/// <summary>
/// The one table of ggml tensor types: name, elements per block, bytes per block (ggml's <c>type_traits</c>), and the
/// codec that quantizes and dequantizes it where SharpTune has one. Types without a codec can still be read and
/// size-checked (a llama.cpp file may hold them), not converted.
/// </summary>
public sealed record GgmlTypeTraits(GgmlType Type, string Name, int BlockElements, int BlockBytes, GgmlBlockCodec? Codec)
{
    private static readonly Dictionary<GgmlType, GgmlTypeTraits> Table = new GgmlTypeTraits[]
    {
        new(GgmlType.F32, "F32", 1, 4, new F32Codec()),
        new(GgmlType.F16, "F16", 1, 2, new F16Codec()),
        new(GgmlType.BF16, "BF16", 1, 2, new Bf16Codec()),
        new(GgmlType.Q4_0, "Q4_0", 32, 18, new Q4_0Codec()),
        new(GgmlType.Q4_1, "Q4_1", 32, 20, null),
        new(GgmlType.Q5_0, "Q5_0", 32, 22, new Q5_0Codec()),
        new(GgmlType.Q5_1, "Q5_1", 32, 24, new Q5_1Codec()),
        new(GgmlType.Q8_0, "Q8_0", 32, 34, new Q8_0Codec()),
        new(GgmlType.Q8_1, "Q8_1", 32, 36, null),
        new(GgmlType.Q2_K, "Q2_K", 256, 84, null),
        new(GgmlType.Q3_K, "Q3_K", 256, 110, null),
        new(GgmlType.Q4_K, "Q4_K", 256, 144, new Q4_KCodec()),
        new(GgmlType.Q5_K, "Q5_K", 256, 176, new Q5_KCodec()),
        new(GgmlType.Q6_K, "Q6_K", 256, 210, new Q6_KCodec()),
        new(GgmlType.Q8_K, "Q8_K", 256, 292, null),
        new(GgmlType.IQ2_XXS, "IQ2_XXS", 256, 66, null),
        new(GgmlType.IQ2_XS, "IQ2_XS", 256, 74, null),
        new(GgmlType.IQ3_XXS, "IQ3_XXS", 256, 98, null),
        new(GgmlType.IQ1_S, "IQ1_S", 256, 50, null),
        new(GgmlType.IQ4_NL, "IQ4_NL", 32, 18, null),
        new(GgmlType.IQ3_S, "IQ3_S", 256, 110, null),
        new(GgmlType.IQ2_S, "IQ2_S", 256, 82, null),
        new(GgmlType.IQ4_XS, "IQ4_XS", 256, 136, null),
        new(GgmlType.I8, "I8", 1, 1, null),
        new(GgmlType.I16, "I16", 1, 2, null),
        new(GgmlType.I32, "I32", 1, 4, null),
        new(GgmlType.I64, "I64", 1, 8, null),
        new(GgmlType.F64, "F64", 1, 8, null),
        new(GgmlType.IQ1_M, "IQ1_M", 256, 56, null),
        new(GgmlType.TQ1_0, "TQ1_0", 256, 54, null),
        new(GgmlType.TQ2_0, "TQ2_0", 256, 66, null),
        new(GgmlType.MXFP4, "MXFP4", 32, 17, null),
    }.ToDictionary(t => t.Type);

    public static bool TryGet(GgmlType type, out GgmlTypeTraits traits) => Table.TryGetValue(type, out traits!);

    public static GgmlTypeTraits Of(GgmlType type) =>
        Table.TryGetValue(type, out var traits) ? traits : throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type");

    /// <summary>Bytes of one row of <paramref name="elements"/> values (a multiple of the block size).</summary>
    public long RowBytes(long elements) => elements % BlockElements == 0
        ? elements / BlockElements * BlockBytes
        : throw new ArgumentException($"{Name} needs rows that are a multiple of {BlockElements} values, not {elements}");

    /// <summary>The codec, or an error naming the type when SharpTune cannot convert it.</summary>
    public GgmlBlockCodec RequireCodec() => Codec ?? throw new SharpTuneException($"ggml type {Name} cannot be converted by SharpTune (reading and writing it as bytes works)");
}
