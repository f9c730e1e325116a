using System.Buffers.Binary;

namespace SharpTune.Gguf;

/// <summary>
/// Q5_1: blocks of 32 values as half scale d, half minimum m, 4 bytes of fifth bits and 16 bytes of nibbles;
/// x = d*q + m (quantize_row_q5_1_ref). llama.cpp's fallback for Q5_K rows that are not a multiple of 256.
/// </summary>
public sealed class Q5_1Codec : GgmlBlockCodec
{
    public override GgmlType Type => GgmlType.Q5_1;
    public override int BlockElements => 32;
    public override int BlockBytes => 24;

    protected override void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float min = float.MaxValue;
        float max = -float.MaxValue;
        for (int j = 0; j < 32; j++)
        {
            if (x[j] < min)
            {
                min = x[j];
            }

            if (x[j] > max)
            {
                max = x[j];
            }
        }

        float d = (max - min) / ((1 << 5) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        KQuantMath.WriteHalf(block, d);
        KQuantMath.WriteHalf(block[2..], min);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = (byte)((x[j] - min) * id + 0.5f);
            int q1 = (byte)((x[16 + j] - min) * id + 0.5f);
            block[8 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 & 0x10) >> 4) << j;
            qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], qh);
    }

    protected override void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = KQuantMath.Half(block);
        float m = KQuantMath.Half(block[2..]);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((block[8 + j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((block[8 + j] >> 4) | h1) * d + m;
        }
    }
}
