namespace SharpTune.Gguf;

/// <summary>
/// Q4_0: blocks of 32 values as a half-precision scale d and 16 bytes of 4-bit q (value j in the low nibble of byte j,
/// value j+16 in its high nibble); x = d*(q-8) (quantize_row_q4_0_ref).
/// </summary>
public sealed class Q4_0Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q4_0;
    public override int BlockElements => 32;
    public override int BlockBytes => 18;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float d = SignedMaxBlockScale.Compute(x, halfRange: 8, out float id);
        KQuantMath.WriteHalf(block, d);
        for (int j = 0; j < 16; j++)
        {
            int q0 = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
            int q1 = Math.Min(15, (int)(sbyte)(x[16 + j] * id + 8.5f));
            block[2 + j] = (byte)(q0 | (q1 << 4));
        }
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((block[2 + j] & 0x0F) - 8) * d;
            y[j + 16] = ((block[2 + j] >> 4) - 8) * d;
        }
    }
}
