namespace SharpTune.Gguf;

/// <summary>
/// Q4_K: super-blocks of 256 values = 8 sub-blocks of 32, each with a 6-bit scale and 6-bit minimum relative to the
/// super-block's half-precision d and dmin. Layout: d, dmin, scales[12], qs[128] (4-bit; for each 64 values, the first
/// 32 in low nibbles, the next 32 in high nibbles). x = d*sc*q - dmin*m (quantize_row_q4_K_ref).
/// </summary>
public sealed class Q4_KCodec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q4_K;
    public override int BlockElements => 256;
    public override int BlockBytes => 144;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> l = stackalloc byte[256];
        block.Clear();
        KQuantScaleSearch.Quantize(x, nmax: 15, rmin: -1f, rdelta: 0.1f, nstep: 20, block[..KQuantScaleSearch.HeaderBytes], l);

        var qs = block.Slice(16, 128);
        for (int j = 0, o = 0; j < 256; j += 64, o += 32)
        {
            for (int i = 0; i < 32; ++i)
            {
                qs[o + i] = (byte)(l[j + i] | (l[j + i + 32] << 4));
            }
        }
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        float min = KQuantMath.Half(block[2..]);
        var scaleBytes = block.Slice(4, 12);
        var qs = block.Slice(16, 128);
        int sub = 0;
        for (int j = 0, o = 0; j < 256; j += 64, o += 32)
        {
            var (sc1, m1) = KQuantMath.ScaleMinK4(sub, scaleBytes);
            var (sc2, m2) = KQuantMath.ScaleMinK4(sub + 1, scaleBytes);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (int i = 0; i < 32; ++i)
            {
                y[j + i] = d1 * (qs[o + i] & 0xF) - min1;
                y[j + 32 + i] = d2 * (qs[o + i] >> 4) - min2;
            }

            sub += 2;
        }
    }
}
