namespace SharpTune.Gguf;

/// <summary>
/// The scale and minimum selection shared by Q4_K and Q5_K (quantize_row_q4_K_ref / quantize_row_q5_K_ref): each of
/// the 8 sub-blocks of 32 values gets a weighted scale/min search (<see cref="KQuantMath.MakeQkx2Quants"/>, weights
/// rms + |x|); the scales and minimums are then stored as 6-bit fractions of the super-block's half-precision d and
/// dmin, and every value is re-quantized to 0..nmax against those stored numbers. The float operation order is
/// llama.cpp's, so results are bit-identical.
/// </summary>
internal static class KQuantScaleSearch
{
    /// <summary>Bytes of the super-block header: half d, half dmin, 12 bytes of packed 6-bit scales and minimums.</summary>
    public const int HeaderBytes = 16;

    private const int SubBlocks = 8;
    private const int SubBlockElements = 32;

    /// <summary>
    /// Writes d, dmin and the packed sub-block scales and minimums of <paramref name="x"/> (256 values) into
    /// <paramref name="header"/> (16 bytes) and each value's level 0..<paramref name="nmax"/> into
    /// <paramref name="levels"/> (256 bytes). <paramref name="rmin"/>, <paramref name="rdelta"/> and
    /// <paramref name="nstep"/> set the candidate scales tried per sub-block (see <see cref="KQuantMath.MakeQkx2Quants"/>).
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> x, int nmax, float rmin, float rdelta, int nstep, Span<byte> header,
        Span<byte> levels)
    {
        Span<byte> laux = stackalloc byte[SubBlockElements];
        Span<float> weights = stackalloc float[SubBlockElements];
        Span<float> mins = stackalloc float[SubBlocks];
        Span<float> scales = stackalloc float[SubBlocks];
        header[..HeaderBytes].Clear();
        var scaleBytes = header.Slice(4, 12);

        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < SubBlocks; ++j)
        {
            var xs = x.Slice(SubBlockElements * j, SubBlockElements);
            float sumX2 = 0;
            for (int i = 0; i < SubBlockElements; ++i)
            {
                sumX2 += xs[i] * xs[i];
            }

            float avX = MathF.Sqrt(sumX2 / SubBlockElements);
            for (int i = 0; i < SubBlockElements; ++i)
            {
                weights[i] = avX + MathF.Abs(xs[i]);
            }

            scales[j] = KQuantMath.MakeQkx2Quants(SubBlockElements, nmax, xs, weights,
                levels.Slice(SubBlockElements * j, SubBlockElements), out mins[j], laux, rmin, rdelta, nstep);
            if (scales[j] > maxScale)
            {
                maxScale = scales[j];
            }

            if (mins[j] > maxMin)
            {
                maxMin = mins[j];
            }
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < SubBlocks; ++j)
        {
            byte ls = Math.Min((byte)63, (byte)KQuantMath.NearestInt(invScale * scales[j]));
            byte lm = Math.Min((byte)63, (byte)KQuantMath.NearestInt(invMin * mins[j]));
            KQuantMath.PackScaleMinK4(j, ls, lm, scaleBytes);
        }

        KQuantMath.WriteHalf(header, maxScale / 63f);
        KQuantMath.WriteHalf(header[2..], maxMin / 63f);
        float dAll = KQuantMath.Half(header);
        float dminAll = KQuantMath.Half(header[2..]);

        for (int j = 0; j < SubBlocks; ++j)
        {
            var (sc, m) = KQuantMath.ScaleMinK4(j, scaleBytes);
            float d = dAll * sc;
            if (d == 0)
            {
                continue;
            }

            float dm = dminAll * m;
            for (int i = 0; i < SubBlockElements; ++i)
            {
                int q = KQuantMath.NearestInt((x[SubBlockElements * j + i] + dm) / d);
                levels[SubBlockElements * j + i] = (byte)Math.Max(0, Math.Min(nmax, q));
            }
        }
    }
}
