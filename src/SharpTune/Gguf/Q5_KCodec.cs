namespace SharpTune.Gguf;

/// <summary>
/// Q5_K: as Q4_K with a fifth bit per value. Layout: d, dmin, scales[12], qh[32], qs[128]; for the n-th group of 64
/// values, value i (of the first 32) has its high bit in bit 2n of qh[i], value 32+i in bit 2n+1.
/// x = d*sc*q - dmin*m (quantize_row_q5_K_ref).
/// </summary>
public sealed class Q5_KCodec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q5_K;
    public override int BlockElements => 256;
    public override int BlockBytes => 176;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> l = stackalloc byte[256];
        block.Clear();
        KQuantScaleSearch.Quantize(x, nmax: 31, rmin: -0.5f, rdelta: 0.1f, nstep: 15, block[..KQuantScaleSearch.HeaderBytes], l);

        var qh = block.Slice(16, 32);
        var ql = block.Slice(48, 128);
        byte m1 = 1, m2 = 2;
        for (int n = 0, o = 0; n < 256; n += 64, o += 32)
        {
            for (int j = 0; j < 32; ++j)
            {
                int l1 = l[n + j];
                if (l1 > 15)
                {
                    l1 -= 16;
                    qh[j] |= m1;
                }

                int l2 = l[n + j + 32];
                if (l2 > 15)
                {
                    l2 -= 16;
                    qh[j] |= m2;
                }

                ql[o + j] = (byte)(l1 | (l2 << 4));
            }

            m1 <<= 2;
            m2 <<= 2;
        }
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        float min = KQuantMath.Half(block[2..]);
        var scaleBytes = block.Slice(4, 12);
        var qh = block.Slice(16, 32);
        var ql = block.Slice(48, 128);
        int sub = 0;
        int u1 = 1, u2 = 2;
        for (int j = 0, o = 0; j < 256; j += 64, o += 32)
        {
            var (sc1, m1) = KQuantMath.ScaleMinK4(sub, scaleBytes);
            var (sc2, m2) = KQuantMath.ScaleMinK4(sub + 1, scaleBytes);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (int i = 0; i < 32; ++i)
            {
                y[j + i] = d1 * ((ql[o + i] & 0xF) + ((qh[i] & u1) != 0 ? 16 : 0)) - min1;
                y[j + 32 + i] = d2 * ((ql[o + i] >> 4) + ((qh[i] & u2) != 0 ? 16 : 0)) - min2;
            }

            sub += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}
