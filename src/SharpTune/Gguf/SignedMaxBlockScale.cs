namespace SharpTune.Gguf;

/// <summary>
/// The block scale of Q4_0 and Q5_0 (quantize_row_q4_0_ref / quantize_row_q5_0_ref): the value of largest magnitude
/// (the first such, keeping its sign) maps to the lowest level, -<c>halfRange</c>, so d = max / -halfRange.
/// </summary>
internal static class SignedMaxBlockScale
{
    /// <summary>Returns d for <paramref name="x"/> and puts 1/d (0 when d is 0) in <paramref name="inverse"/>.</summary>
    public static float Compute(ReadOnlySpan<float> x, int halfRange, out float inverse)
    {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < x.Length; j++)
        {
            if (amax < MathF.Abs(x[j]))
            {
                amax = MathF.Abs(x[j]);
                max = x[j];
            }
        }

        float d = max / -halfRange;
        inverse = d != 0 ? 1.0f / d : 0.0f;
        return d;
    }
}
