namespace SharpTune.Gguf;

/// <summary>
/// One tensor of an export: its GGUF name, dimensions and type, where its values come from (a checkpoint tensor or
/// computed values such as rope factors), and, for llama's q/k projections, the source row of each output row.
/// 1-D tensors (biases) are treated as one row per value when permuted.
/// </summary>
public sealed record GgufTensorPlan(GgufTensorInfo Info, string? HfName, int[]? RowSources, float[]? Values)
{
    /// <summary>Reads rows [first, first+count) of the GGUF tensor as float32 into <paramref name="destination"/>.</summary>
    public void Read(IHfTensorSource source, long first, int count, Span<float> destination)
    {
        int rowLength = checked((int)Info.RowLength);
        if (Values is not null)
        {
            Values.AsSpan(checked((int)(first * rowLength)), count * rowLength).CopyTo(destination);
            return;
        }

        if (RowSources is null)
        {
            source.ReadFloat32(HfName!, first * rowLength, destination);
            return;
        }

        if (Info.Dimensions.Count == 1)
        {
            // A permuted bias: its "rows" are single values.
            var all = new float[Info.ElementCount];
            source.ReadFloat32(HfName!, 0, all);
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = all[RowSources[first + i]];
            }

            return;
        }

        for (int r = 0; r < count; r++)
        {
            source.ReadFloat32(HfName!, (long)RowSources[first + r] * rowLength, destination.Slice(r * rowLength, rowLength));
        }
    }
}
