using System.Buffers.Binary;

namespace SharpTune.Gguf;

/// <summary>
/// Q5_0: blocks of 32 values as a half scale d, 4 bytes holding the fifth bit of each value (bit j for value j), and
/// 16 bytes of low nibbles as in Q4_0; x = d*(q-16) (quantize_row_q5_0_ref). llama.cpp's fallback for Q4_K rows
/// that are not a multiple of 256.
/// </summary>
public sealed class Q5_0Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q5_0;
    public override int BlockElements => 32;
    public override int BlockBytes => 22;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float d = SignedMaxBlockScale.Compute(x, halfRange: 16, out float id);
        KQuantMath.WriteHalf(block, d);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = Math.Min(31, (int)(sbyte)(x[j] * id + 16.5f));
            int q1 = Math.Min(31, (int)(sbyte)(x[16 + j] * id + 16.5f));
            block[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 & 0x10) >> 4) << j;
            qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(block[2..], qh);
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((block[6 + j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((block[6 + j] >> 4) | h1) - 16) * d;
        }
    }
}
