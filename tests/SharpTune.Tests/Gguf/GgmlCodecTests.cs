using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

public sealed class GgmlCodecTests
{
    public static TheoryData<GgmlType> QuantizedTypes => new(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);

    /// <summary>Rows of 512 values in shapes that stress the scale searches: Gaussian, outliers, all-positive, zeros, constants, tiny values.</summary>
    private static float[] Data(int seed, int rows = 24, int rowLength = 512)
    {
        var random = new Random(seed);
        var values = new float[rows * rowLength];
        for (int r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * rowLength, rowLength);
            for (int i = 0; i < rowLength; i++)
            {
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                row[i] = (r % 8) switch
                {
                    0 => (float)(gaussian * 0.02),
                    1 => (float)(gaussian * 0.02 + (random.Next(50) == 0 ? 0.5 : 0)),
                    2 => (float)Math.Abs(gaussian),
                    3 => i < 300 ? 0f : (float)gaussian,
                    4 => 0.25f,
                    5 => (float)(gaussian * 1e-6),
                    6 => (float)(-Math.Abs(gaussian) * 3),
                    _ => (float)(gaussian * 100),
                };
            }
        }

        return values;
    }

    [Theory]
    [MemberData(nameof(QuantizedTypes))]
    public void Quantization_is_bit_identical_to_llama_cpp_reference_quantizer(GgmlType type)
    {
        var codec = GgmlTypeTraits.Of(type).RequireCodec();
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var values = Data(seed);
            var ours = new byte[GgmlTypeTraits.Of(type).RowBytes(values.Length)];
            codec.Quantize(values, ours);
            var theirs = GgmlReference.Quantize(type, values, 512);
            int first = ours.AsSpan().CommonPrefixLength(theirs);
            Assert.True(first == ours.Length, $"{type} seed {seed}: first differing byte {first} of {ours.Length} (block {first / codec.BlockBytes})");
        }
    }

    [Theory]
    [MemberData(nameof(QuantizedTypes))]
    public void Dequantization_matches_llama_cpp_exactly(GgmlType type)
    {
        var codec = GgmlTypeTraits.Of(type).RequireCodec();
        var values = Data(7);
        var bytes = GgmlReference.Quantize(type, values, 512);
        var ours = new float[values.Length];
        codec.Dequantize(bytes, ours);
        var theirs = GgmlReference.Dequantize(type, bytes, values.Length);
        Assert.Equal(theirs, ours);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 0.01)]
    [InlineData(GgmlType.Q6_K, 0.03)]
    [InlineData(GgmlType.Q5_K, 0.06)]
    [InlineData(GgmlType.Q5_0, 0.08)]
    [InlineData(GgmlType.Q4_K, 0.12)]
    [InlineData(GgmlType.Q4_0, 0.15)]
    public void Round_trip_error_of_gaussian_weights_is_within_the_formats_precision(GgmlType type, double maxRelativeRms)
    {
        var random = new Random(11);
        var values = Enumerable.Range(0, 256 * 64).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        var codec = GgmlTypeTraits.Of(type).RequireCodec();
        var bytes = new byte[GgmlTypeTraits.Of(type).RowBytes(values.Length)];
        codec.Quantize(values, bytes);
        var back = new float[values.Length];
        codec.Dequantize(bytes, back);
        double err = Math.Sqrt(values.Zip(back, (a, b) => (double)(a - b) * (a - b)).Average());
        double rms = Math.Sqrt(values.Average(v => (double)v * v));
        Assert.InRange(err / rms, 1e-4, maxRelativeRms);
    }

    [Fact]
    public void Q8_0_hand_built_block_dequantizes_to_d_times_q()
    {
        var block = new byte[34];
        BitConverter.TryWriteBytes(block, (Half)0.5f);
        for (int j = 0; j < 32; j++)
        {
            block[2 + j] = (byte)(sbyte)(j * 8 - 128);
        }

        var y = new float[32];
        new Q8_0Codec().Dequantize(block, y);
        Assert.Equal(Enumerable.Range(0, 32).Select(j => 0.5f * (j * 8 - 128)), y);
    }

    [Fact]
    public void Q4_0_hand_built_block_puts_values_0_to_15_in_low_nibbles_and_16_to_31_in_high_nibbles()
    {
        var block = new byte[18];
        BitConverter.TryWriteBytes(block, (Half)2f);
        for (int j = 0; j < 16; j++)
        {
            block[2 + j] = (byte)(j | ((15 - j) << 4));
        }

        var y = new float[32];
        new Q4_0Codec().Dequantize(block, y);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(2f * (j - 8), y[j]);
            Assert.Equal(2f * (15 - j - 8), y[j + 16]);
        }
    }

    [Fact]
    public void Q4_K_hand_built_block_follows_the_six_bit_scale_and_min_layout()
    {
        // d = 0.25, dmin = 0.125; sub-block j has scale j+1 and min 2 (and 40 for j = 7, which needs the high bits).
        var block = new byte[144];
        BitConverter.TryWriteBytes(block.AsSpan(0), (Half)0.25f);
        BitConverter.TryWriteBytes(block.AsSpan(2), (Half)0.125f);
        byte[] sc = [1, 2, 3, 4, 5, 6, 7, 8];
        byte[] mn = [2, 2, 2, 2, 2, 2, 2, 40];
        var scales = block.AsSpan(4, 12);
        for (int j = 0; j < 4; j++)
        {
            scales[j] = (byte)(sc[j] | ((sc[j + 4] >> 4) << 6));
            scales[j + 4] = (byte)(mn[j] | ((mn[j + 4] >> 4) << 6));
            scales[j + 8] = (byte)((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
        }

        // Each group of 64 values: the first 32 in low nibbles (q = 3), the next 32 in high nibbles (q = 12).
        for (int i = 0; i < 128; i++)
        {
            block[16 + i] = 3 | (12 << 4);
        }

        var y = new float[256];
        new Q4_KCodec().Dequantize(block, y);
        for (int i = 0; i < 256; i++)
        {
            int j = i / 32;
            int q = j % 2 == 0 ? 3 : 12;
            Assert.Equal(0.25f * sc[j] * q - 0.125f * mn[j], y[i]);
        }
    }

    [Fact]
    public void Q6_K_hand_built_block_combines_low_nibbles_high_bits_and_signed_scales()
    {
        var block = new byte[210];
        // every value q = 40 (low nibble 8, high bits 2) -> q - 32 = 8
        for (int i = 0; i < 128; i++)
        {
            block[i] = 8 | (8 << 4);
        }

        for (int i = 0; i < 64; i++)
        {
            block[128 + i] = 2 | (2 << 2) | (2 << 4) | (2 << 6);
        }

        for (int s = 0; s < 16; s++)
        {
            block[192 + s] = (byte)(sbyte)(s - 8);
        }

        BitConverter.TryWriteBytes(block.AsSpan(208), (Half)0.5f);
        var y = new float[256];
        new Q6_KCodec().Dequantize(block, y);
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(0.5f * (i / 16 - 8) * 8, y[i]);
        }
    }

    [Fact]
    public void Bf16_rounds_to_nearest_even_and_keeps_nan_quiet()
    {
        Assert.Equal((ushort)0x3F80, Bf16Codec.FromFloat(1.0f));
        Assert.Equal((ushort)0x3F80, Bf16Codec.FromFloat(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie -> even
        Assert.Equal((ushort)0x3F82, Bf16Codec.FromFloat(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie -> even (up)
        Assert.Equal((ushort)0x3F81, Bf16Codec.FromFloat(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(Bf16Codec.ToFloat(Bf16Codec.FromFloat(float.NaN))));
    }
}
