namespace SharpTune.Quantization;

/// <summary>
/// The 16 NormalFloat-4 values of QLoRA (Dettmers et al. 2023), exactly as bitsandbytes defines them
/// (<c>get_4bit_type("nf4")</c>): quantiles of N(0, 1) scaled to [-1, 1], with an exact zero. Code i is value i.
/// </summary>
public static class Nf4CodeBook
{
    public static IReadOnlyList<float> Values { get; } =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>
    /// The 15 decision boundaries between adjacent codes. A normalized value strictly above boundary i-1 and at most
    /// boundary i gets code i; bitsandbytes' decision tree sends a value equal to a midpoint to the lower code too.
    /// </summary>
    public static IReadOnlyList<float> Midpoints { get; } = Enumerable.Range(0, 15).Select(i => (float)(((double)Values[i] + Values[i + 1]) / 2)).ToArray();

    /// <summary>Half of the largest gap between adjacent codes: the worst rounding error on a value in [-1, 1].</summary>
    public static double MaxHalfGap { get; } = Enumerable.Range(0, 15).Max(i => ((double)Values[i + 1] - Values[i]) / 2);

    /// <summary>The nearest code to <paramref name="normalized"/> (a value in [-1, 1]), with bitsandbytes' tie rule.</summary>
    public static byte Nearest(float normalized)
    {
        byte code = 0;
        while (code < 15 && normalized > Midpoints[code])
        {
            code++;
        }

        return code;
    }
}
