using System.Text;
using SharpTune.Models.Checkpoint;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

public sealed class SafetensorsRoundTripTests
{
    public static TheoryData<ScalarType> DTypes => new(
        ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float64,
        ScalarType.Int64, ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool);

    [Theory]
    [MemberData(nameof(DTypes))]
    public void Every_dtype_round_trips_bit_for_bit(ScalarType dtype)
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-st-{Guid.NewGuid():N}.safetensors");
        try
        {
            var source = (randn(3, 5, 7) * 50).to(dtype);
            var scalar = tensor(3.5).to(dtype);
            var empty_ = zeros(new long[] { 0, 4 }, dtype);
            new SafetensorsWriter().Add("a.weight", source).Add("scalar", scalar).Add("empty", empty_).Write(path);
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(["a.weight", "empty", "scalar"], file.Tensors.Select(t => t.Name).Order());
            Assert.Equal([3L, 5, 7], file.Info("a.weight").Shape);
            Assert.Empty(file.Info("scalar").Shape);
            Assert.Equal("pt", file.Metadata["format"]);
            var read = file.ReadTensor("a.weight");
            Assert.Equal(dtype, read.dtype);
            Assert.True(read.Same(source));
            Assert.True(file.ReadTensor("scalar").Same(scalar));
            Assert.Equal([0L, 4], file.ReadTensor("empty").shape);
            Assert.Equal(source.bytes.ToArray(), file.GetBytes("a.weight").ToArray());
            Assert.Equal(0, file.Header.DataStart % 8);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Reading_converts_dtypes_like_torch_and_tensors_are_aligned_to_their_element_size()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-st-{Guid.NewGuid():N}.safetensors");
        try
        {
            var weights = randn(16, 8);
            new SafetensorsWriter()
                .Add("bf16", weights.to(ScalarType.BFloat16))
                .Add("f32", weights)
                .Add("i8", tensor(new sbyte[] { 1, -2, 3 }))
                .Add("f64", weights.to(ScalarType.Float64))
                .Write(path, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "test" });
            using var file = SafetensorsFile.Open(path);
            Assert.Equal("test", file.Metadata["note"]);
            foreach (var info in file.Tensors)
            {
                Assert.Equal(0, (file.Header.DataStart + info.Begin) % info.DType.ElementSize());
            }

            Assert.True(file.ReadTensor("bf16", ScalarType.Float32).Same(weights.to(ScalarType.BFloat16).to(ScalarType.Float32)));
            Assert.True(file.ReadTensor("f32", ScalarType.BFloat16).Same(weights.to(ScalarType.BFloat16)));
            Assert.True(file.ReadTensor("f64", ScalarType.Float16).Same(weights.to(ScalarType.Float64).to(ScalarType.Float16)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_file_layout_follows_the_format_and_raw_bytes_can_be_added()
    {
        _ = TorchFixture.Runtime;
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-st-{Guid.NewGuid():N}.safetensors");
        try
        {
            byte[] data = [1, 0, 2, 0, 3, 0, 4, 0];
            new SafetensorsWriter().AddBytes("u16", SafetensorsDType.U16, [2, 2], data).Write(path, new Dictionary<string, string>());
            byte[] bytes = File.ReadAllBytes(path);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            Assert.Equal("{\"u16\":{\"dtype\":\"U16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", header.TrimEnd(' '));
            Assert.Equal(data, bytes[(8 + (int)headerLength)..]);
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(data, file.GetBytes("u16").ToArray());
            var error = Assert.Throws<SharpTuneException>(() => file.ReadTensor("u16"));
            Assert.Contains("U16", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Writing_replaces_the_file_atomically_and_leaves_no_temporary_files()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        string directory = TestModels.TempDirectory("atomic");
        try
        {
            string path = Path.Combine(directory, "model.safetensors");
            new SafetensorsWriter().Add("x", ones(4)).Write(path);
            new SafetensorsWriter().Add("y", zeros(2)).Write(path);
            Assert.Equal(["model.safetensors"], Directory.GetFiles(directory).Select(Path.GetFileName));
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(["y"], file.Tensors.Select(t => t.Name));
            Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("x", ones(1)).Add("x", ones(1)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
