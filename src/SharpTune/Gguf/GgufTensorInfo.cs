namespace SharpTune.Gguf;

/// <summary>
/// One tensor of a GGUF file: name, dimensions in ggml order (<c>ne[0]</c>, the contiguous row length, first; a
/// PyTorch weight of shape [out, in] has dimensions [in, out]), element type, and byte offset inside the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Dimensions, GgmlType Type, long Offset)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);

    /// <summary>Values per row (<c>ne[0]</c>).</summary>
    public long RowLength => Dimensions[0];

    public long RowCount => ElementCount / Math.Max(1, RowLength);

    public long ByteSize => GgmlTypeTraits.Of(Type).RowBytes(RowLength) * RowCount;

    public override string ToString() => $"{Name} {GgmlTypeTraits.Of(Type).Name} [{string.Join(", ", Dimensions)}]";
}
