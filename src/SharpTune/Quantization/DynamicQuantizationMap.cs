namespace SharpTune.Quantization;

/// <summary>
/// bitsandbytes' 8-bit "dynamic" data type (<c>create_dynamic_map</c>, Dettmers 2015): a sign, a run of zero bits
/// that sets a decimal exponent from 1e-6 to 1, and a linear fraction in the remaining bits. 256 sorted values in
/// [-1, 1] (signed) or [0, 1] (unsigned). Used for the double quantization of NF4 absmax values and for the moments
/// of 8-bit AdamW.
/// </summary>
public static class DynamicQuantizationMap
{
    private const int MaxExponentBits = 7;
    private const int TotalBits = 8;

    public static IReadOnlyList<float> Signed { get; } = Create(signed: true);

    public static IReadOnlyList<float> Unsigned { get; } = Create(signed: false);

    public static float[] Create(bool signed)
    {
        var data = new List<float>(256);
        int nonSignBits = TotalBits - 1;
        for (int i = 0; i < MaxExponentBits; i++)
        {
            int fractionItems = signed ? (1 << (i + nonSignBits - MaxExponentBits)) + 1 : (1 << (i + nonSignBits - MaxExponentBits + 1)) + 1;
            float scale = (float)Math.Pow(10, -(MaxExponentBits - 1) + i);
            for (int k = 0; k < fractionItems - 1; k++)
            {
                // torch.linspace(0.1, 1, fractionItems) in float32, then the means of neighbours, as bitsandbytes does.
                float low = LinSpace(0.1f, 1f, fractionItems, k);
                float high = LinSpace(0.1f, 1f, fractionItems, k + 1);
                float mean = (low + high) / 2f;
                data.Add(scale * mean);
                if (signed)
                {
                    data.Add(-scale * mean);
                }
            }
        }

        data.Add(0f);
        data.Add(1f);
        while (data.Count < 256)
        {
            data.Add(0f);
        }

        if (data.Count != 256)
        {
            throw new InvalidOperationException($"dynamic map has {data.Count} values, expected 256");
        }

        data.Sort();
        return [.. data];
    }

    /// <summary>Boundaries between adjacent values of a sorted map (255 of them): nearest-value quantization.</summary>
    public static float[] Midpoints(IReadOnlyList<float> map) => Enumerable.Range(0, map.Count - 1).Select(i => (map[i] + map[i + 1]) / 2f).ToArray();

    private static float LinSpace(float start, float end, int steps, int index)
    {
        float step = (end - start) / (steps - 1);
        // torch's linspace fills the first half from the start and the second half from the end.
        return index < steps / 2 ? start + step * index : end - step * (steps - 1 - index);
    }
}
