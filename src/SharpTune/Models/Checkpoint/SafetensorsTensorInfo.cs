namespace SharpTune.Models.Checkpoint;

/// <summary>
/// One tensor entry of a safetensors header: its dtype, shape and byte range. <see cref="Begin"/> and
/// <see cref="End"/> are relative to the start of the data section (after the 8-byte length and the JSON header).
/// </summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long dim in Shape)
            {
                count *= dim;
            }

            return count;
        }
    }

    public override string ToString() => $"{Name} {DType.Name()} [{string.Join(", ", Shape)}]";
}
