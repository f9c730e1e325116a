namespace SharpTune.Gguf;

/// <summary>
/// Q6_K: super-blocks of 256 values = 16 sub-blocks of 16 with signed 8-bit scales relative to a half-precision d.
/// Layout: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16], d. x = d*scale*(q-32) (quantize_row_q6_K_ref).
/// </summary>
public sealed class Q6_KCodec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q6_K;
    public override int BlockElements => 256;
    public override int BlockBytes => 210;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<sbyte> l = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        block.Clear();
        var ql = block[..128];
        var qh = block.Slice(128, 64);
        var sc = block.Slice(192, 16);

        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ++ib)
        {
            float scale = KQuantMath.MakeQxQuants(16, 32, x.Slice(16 * ib, 16), l.Slice(16 * ib, 16));
            scales[ib] = scale;
            float absScale = MathF.Abs(scale);
            if (absScale > maxAbsScale)
            {
                maxAbsScale = absScale;
                maxScale = scale;
            }
        }

        if (maxAbsScale < KQuantMath.GroupMaxEps)
        {
            return; // all zero, d = 0
        }

        float iscale = -128f / maxScale;
        KQuantMath.WriteHalf(block[208..], 1 / iscale);
        for (int ib = 0; ib < 16; ++ib)
        {
            sc[ib] = (byte)(sbyte)Math.Min(127, KQuantMath.NearestInt(iscale * scales[ib]));
        }

        float dAll = KQuantMath.Half(block[208..]);
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * (sbyte)sc[j];
            if (d == 0)
            {
                continue;
            }

            for (int i = 0; i < 16; ++i)
            {
                int q = KQuantMath.NearestInt(x[16 * j + i] / d);
                q = Math.Max(-32, Math.Min(31, q));
                l[16 * j + i] = (sbyte)(q + 32);
            }
        }

        for (int j = 0, lo = 0, ho = 0; j < 256; j += 128, lo += 64, ho += 32)
        {
            for (int i = 0; i < 32; ++i)
            {
                int q1 = l[j + i] & 0xF;
                int q2 = l[j + i + 32] & 0xF;
                int q3 = l[j + i + 64] & 0xF;
                int q4 = l[j + i + 96] & 0xF;
                ql[lo + i] = (byte)(q1 | (q3 << 4));
                ql[lo + i + 32] = (byte)(q2 | (q4 << 4));
                qh[ho + i] = (byte)((l[j + i] >> 4) | ((l[j + i + 32] >> 4) << 2) | ((l[j + i + 64] >> 4) << 4) | ((l[j + i + 96] >> 4) << 6));
            }
        }
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        var ql = block[..128];
        var qh = block.Slice(128, 64);
        var sc = block.Slice(192, 16);
        float d = KQuantMath.Half(block[208..]);
        for (int n = 0, lo = 0, ho = 0, so = 0; n < 256; n += 128, lo += 64, ho += 32, so += 8)
        {
            for (int i = 0; i < 32; ++i)
            {
                int s = i / 16;
                int q1 = ((ql[lo + i] & 0xF) | (((qh[ho + i] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[lo + i + 32] & 0xF) | (((qh[ho + i] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[lo + i] >> 4) | (((qh[ho + i] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[lo + i + 32] >> 4) | (((qh[ho + i] >> 6) & 3) << 4)) - 32;
                y[n + i] = d * (sbyte)sc[so + s] * q1;
                y[n + i + 32] = d * (sbyte)sc[so + s + 2] * q2;
                y[n + i + 64] = d * (sbyte)sc[so + s + 4] * q3;
                y[n + i + 96] = d * (sbyte)sc[so + s + 6] * q4;
            }
        }
    }
}
