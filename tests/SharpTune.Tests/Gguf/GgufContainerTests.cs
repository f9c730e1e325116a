using System.Text;
using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

public sealed class GgufContainerTests
{
    private static readonly GgufValue NestedArray = GgufValue.Array(GgufValueType.Array,
    [
        GgufValue.Int32Array([1, 2, 3]),
        GgufValue.Int32Array([]),
        GgufValue.Int32Array([-7]),
    ]);

    private static List<KeyValuePair<string, GgufValue>> EveryValueType(bool nested = true) =>
    [
        new("t.u8", GgufValue.UInt8(250)),
        new("t.i8", GgufValue.Int8(-100)),
        new("t.u16", GgufValue.UInt16(65000)),
        new("t.i16", GgufValue.Int16(-32000)),
        new("t.u32", GgufValue.UInt32(4_000_000_000)),
        new("t.i32", GgufValue.Int32(-2_000_000_000)),
        new("t.f32", GgufValue.Float32(3.25f)),
        new("t.bool", GgufValue.Bool(true)),
        new("t.str", GgufValue.String("héllo \u2581 <|eot_id|>")),
        new("t.u64", GgufValue.UInt64(ulong.MaxValue - 1)),
        new("t.i64", GgufValue.Int64(long.MinValue + 1)),
        new("t.f64", GgufValue.Float64(-1e300)),
        new("t.strings", GgufValue.StringArray(["a", "", "Ġthe"])),
        new("t.floats", GgufValue.Float32Array([0.5f, -1f])),
        .. nested ? [new KeyValuePair<string, GgufValue>("t.nested", NestedArray)] : Array.Empty<KeyValuePair<string, GgufValue>>(),
    ];

    /// <summary>A file with every metadata type and three tensors (F32, F16, Q8_0).</summary>
    private static (string Path, float[] A, float[] B, float[] C) WriteSample(TempDirectory dir, uint alignment = 32, bool nested = true)
    {
        string path = dir.File($"sample-{alignment}-{nested}.gguf");
        var a = Enumerable.Range(0, 6).Select(i => i * 1.5f).ToArray();
        var b = Enumerable.Range(0, 64).Select(i => (float)(i - 32) / 8).ToArray();
        var c = Enumerable.Range(0, 96).Select(i => MathF.Sin(i)).ToArray();
        using var writer = new GgufWriter(path, alignment);
        foreach (var (key, value) in EveryValueType(nested))
        {
            writer.AddMetadata(key, value);
        }

        writer.AddTensor("a", [3, 2], GgmlType.F32);
        writer.AddTensor("b", [64], GgmlType.F16);
        writer.AddTensor("c", [32, 3], GgmlType.Q8_0);
        writer.BeginTensorData();
        foreach (var (values, type) in new[] { (a, GgmlType.F32), (b, GgmlType.F16), (c, GgmlType.Q8_0) })
        {
            var bytes = new byte[GgmlTypeTraits.Of(type).RowBytes(values.Length)];
            GgmlTypeTraits.Of(type).RequireCodec().Quantize(values, bytes);
            writer.WriteTensorData(bytes.AsSpan(0, 5)); // in pieces
            writer.WriteTensorData(bytes.AsSpan(5));
        }

        writer.Commit();
        return (path, a, b, c);
    }

    [Fact]
    public void Every_value_type_and_nested_arrays_round_trip()
    {
        using var dir = new TempDirectory();
        var (path, a, b, c) = WriteSample(dir);
        using var reader = GgufReader.Open(path);
        Assert.Equal(3u, reader.Version);
        Assert.Equal(EveryValueType().Select(kv => kv.Key), reader.MetadataInOrder.Select(kv => kv.Key));
        foreach (var (key, value) in EveryValueType())
        {
            Assert.Equal(value, reader.Metadata[key]);
        }

        Assert.Equal(new long[] { 3, 2 }, reader.Tensor("a").Dimensions);
        Assert.Equal(a, reader.ReadTensorAsFloat32("a"));
        Assert.Equal(b, reader.ReadTensorAsFloat32("b"));
        var cBack = reader.ReadTensorAsFloat32("c");
        Assert.All(c.Zip(cBack), p => Assert.InRange(p.First - p.Second, -0.01f, 0.01f));
        Assert.Equal(0, reader.DataOffset % 32);
        Assert.All(reader.Tensors, t => Assert.Equal(0, t.Offset % 32));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void Ggml_own_parser_accepts_our_file_with_the_same_tensors_and_offsets()
    {
        // ggml's reader does not take arrays of arrays (the format allows them; llama.cpp never writes them).
        using var dir = new TempDirectory();
        foreach (uint alignment in new uint[] { 32, 64 })
        {
            var (path, _, _, _) = WriteSample(dir, alignment, nested: false);
            var parsed = GgmlReference.ParseGguf(path);
            Assert.NotNull(parsed);
            using var reader = GgufReader.Open(path);
            Assert.Equal(reader.Metadata.Count, parsed!.Value.Keys);
            Assert.Equal(reader.Tensors.Select(t => (t.Name, (int)t.Type, t.Offset)), parsed.Value.TensorInfos);
            Assert.Equal(alignment, reader.Alignment);
        }
    }

    [Fact]
    public void Custom_alignment_is_recorded_and_padding_is_zero()
    {
        using var dir = new TempDirectory();
        var (path, _, _, _) = WriteSample(dir, 64);
        using var reader = GgufReader.Open(path);
        Assert.Equal(GgufValue.UInt32(64), reader.Metadata["general.alignment"]);
        Assert.Equal(0, reader.DataOffset % 64);
        Assert.All(reader.Tensors, t => Assert.Equal(0, t.Offset % 64));
        var file = File.ReadAllBytes(path);
        var a = reader.Tensor("a");
        var b = reader.Tensor("b");
        Assert.All(file[(int)(reader.DataOffset + a.Offset + a.ByteSize)..(int)(reader.DataOffset + b.Offset)], x => Assert.Equal(0, x));
    }

    [Fact]
    public void An_uncommitted_writer_leaves_no_file_behind()
    {
        using var dir = new TempDirectory();
        string path = dir.File("partial.gguf");
        using (var writer = new GgufWriter(path))
        {
            writer.AddTensor("a", [32], GgmlType.F32);
            writer.BeginTensorData();
            writer.WriteTensorData(new byte[10]);
        }

        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Truncation_anywhere_gives_a_clear_error_naming_the_file()
    {
        using var dir = new TempDirectory();
        var (path, _, _, _) = WriteSample(dir);
        var bytes = File.ReadAllBytes(path);
        string damaged = dir.File("truncated.gguf");
        for (int length = 0; length < bytes.Length; length += length < 400 ? 1 : 13)
        {
            File.WriteAllBytes(damaged, bytes[..length]);
            var error = Assert.Throws<SharpTuneException>(() => GgufReader.Open(damaged).Dispose());
            Assert.StartsWith(damaged + ": ", error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
    }

    [Fact]
    public void Truncated_tensor_data_names_the_tensor()
    {
        using var dir = new TempDirectory();
        var (path, _, _, _) = WriteSample(dir);
        var bytes = File.ReadAllBytes(path);
        string damaged = dir.File("short.gguf");
        File.WriteAllBytes(damaged, bytes[..^10]);
        var error = Assert.Throws<SharpTuneException>(() => GgufReader.Open(damaged).Dispose());
        Assert.Contains("tensor 'c'", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Flipped_bytes_never_crash_the_reader()
    {
        using var dir = new TempDirectory();
        var (path, _, _, _) = WriteSample(dir);
        var original = File.ReadAllBytes(path);
        string damaged = dir.File("flipped.gguf");
        var random = new Random(5);
        int rejected = 0;
        using var headerReader = GgufReader.Open(path);
        int headerLength = (int)headerReader.DataOffset;
        for (int trial = 0; trial < 600; trial++)
        {
            var bytes = (byte[])original.Clone();
            int at = trial < headerLength ? trial : random.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << random.Next(8));
            if (random.Next(4) == 0)
            {
                bytes[random.Next(headerLength)] = 0xFF;
            }

            File.WriteAllBytes(damaged, bytes);
            try
            {
                using var reader = GgufReader.Open(damaged);
                foreach (var tensor in reader.Tensors)
                {
                    _ = reader.ReadTensorBytes(tensor);
                }
            }
            catch (SharpTuneException e)
            {
                Assert.StartsWith(damaged, e.Message);
                rejected++;
            }
        }

        Assert.True(rejected > 100, $"only {rejected} of 600 damaged files were rejected");
    }

    [Theory]
    [InlineData("magic", "not a GGUF file")]
    [InlineData("version", "version 1 is not supported")]
    [InlineData("string", "not valid UTF-8")]
    [InlineData("type", "unknown value type 13")]
    [InlineData("count", "cannot fit")]
    [InlineData("alignment", "must be a power-of-two uint32")]
    [InlineData("tensortype", "unknown ggml type 99")]
    [InlineData("offset", "is not aligned to 32")]
    [InlineData("rowlength", "is not a multiple of Q8_0's block of 32")]
    public void Specific_corruptions_are_named(string what, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File(what + ".gguf");
        var header = new MemoryStream();
        var w = new BinaryWriter(header);
        void Str(string s)
        {
            var b = what == "string" && s == "key" ? new byte[] { 0xC3, 0x28 } : Encoding.UTF8.GetBytes(s);
            w.Write((ulong)b.Length);
            w.Write(b);
        }

        w.Write(what == "magic" ? 0x46554748u : GgufFormat.Magic);
        w.Write(what == "version" ? 1u : 3u);
        w.Write(1UL); // tensors
        w.Write(what == "count" ? 1UL << 40 : 1UL);
        if (what == "alignment")
        {
            Str("general.alignment");
            w.Write((uint)GgufValueType.UInt32);
            w.Write(48u);
        }
        else
        {
            Str("key");
            w.Write(what == "type" ? 13u : (uint)GgufValueType.UInt32);
            w.Write(7u);
        }

        Str("t");
        w.Write(1u);
        w.Write(what == "rowlength" ? 33UL : 32UL);
        w.Write(what == "tensortype" ? 99u : (uint)GgmlType.Q8_0);
        w.Write(what == "offset" ? 8UL : 0UL);
        w.Flush();
        var bytes = header.ToArray().ToList();
        while (bytes.Count % 32 != 0)
        {
            bytes.Add(0);
        }

        bytes.AddRange(new byte[64]);
        File.WriteAllBytes(path, bytes.ToArray());
        var error = Assert.Throws<SharpTuneException>(() => GgufReader.Open(path).Dispose());
        Assert.Contains(expected, error.Message);
        Assert.StartsWith(path + ": ", error.Message);
    }
}
