namespace SharpTune.Gguf;

/// <summary>Q8_0: blocks of 32 values as a half-precision scale d and 32 signed bytes; x = d*q (quantize_row_q8_0_ref).</summary>
public sealed class Q8_0Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q8_0;
    public override int BlockElements => 32;
    public override int BlockBytes => 34;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++)
        {
            amax = Math.Max(amax, MathF.Abs(x[j]));
        }

        float d = amax / ((1 << 7) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        KQuantMath.WriteHalf(block, d);
        for (int j = 0; j < 32; j++)
        {
            block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        for (int j = 0; j < 32; j++)
        {
            y[j] = (sbyte)block[2 + j] * d;
        }
    }
}
