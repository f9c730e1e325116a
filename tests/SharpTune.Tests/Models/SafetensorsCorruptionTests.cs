using System.Text;
using SharpTune.Models.Checkpoint;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

/// <summary>Every kind of damaged safetensors file is refused with one clear line naming the file (and tensor).</summary>
public sealed class SafetensorsCorruptionTests : IDisposable
{
    private readonly string _directory = TestModels.TempDirectory("corrupt");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_truncated_file_is_refused_naming_the_tensor_that_runs_past_the_end()
    {
        string path = Valid("truncated");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var error = Refused(path);
        Assert.Contains("truncated", error);
        Assert.Contains("'b'", error);
    }

    [Fact]
    public void A_file_cut_inside_its_header_or_shorter_than_the_length_prefix_is_refused()
    {
        string path = Valid("cut");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..20]);
        Assert.Contains("does not fit", Refused(path));
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("shorter than the 8-byte header length", Refused(path));
        File.WriteAllBytes(path, []);
        Assert.Contains("shorter than the 8-byte header length", Refused(path));
    }

    [Theory]
    [InlineData(0L, "outside 1..")]
    [InlineData(-5L, "outside 1..")]
    [InlineData(long.MaxValue, "outside 1..")]
    [InlineData(1000L, "does not fit")]
    public void An_impossible_header_length_is_refused(long length, string expected)
    {
        string path = Path.Combine(_directory, "length.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(length), .. Encoding.UTF8.GetBytes("{}      ")]);
        Assert.Contains(expected, Refused(path));
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", "not valid UTF-8 JSON")]
    [InlineData("[1, 2, 3]", "not an object")]
    [InlineData("{\"a\": {\"dtype\": \"F17\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "unknown safetensors dtype 'F17'")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", "needs 12 bytes")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "negative dimension")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", "not an ascending range")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", "missing array field 'data_offsets'")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", "not an integer")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", "overlaps")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "cover 4 bytes of data but the file holds 16")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [12, 16]}}", "leaving a gap")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "appears twice")]
    [InlineData("{\"__metadata__\": {\"format\": 3}, \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "is not a string")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 16]}}", "overflows")]
    public void A_corrupt_header_is_refused_with_a_clear_reason(string header, string expected)
    {
        string path = Path.Combine(_directory, "bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)json.Length), .. json, .. new byte[16]]);
        string error = Refused(path);
        Assert.Contains(expected, error);
        Assert.Single(error.Split('\n'));
    }

    [Fact]
    public void Invalid_utf8_in_the_header_and_a_missing_file_are_refused()
    {
        string path = Path.Combine(_directory, "utf8.safetensors");
        byte[] json = [(byte)'{', 0xff, 0xfe, (byte)'}'];
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)json.Length), .. json]);
        Assert.Contains("not valid UTF-8 JSON", Refused(path));
        Assert.Contains("not found", Refused(Path.Combine(_directory, "missing.safetensors")));
    }

    [Fact]
    public void Asking_for_an_absent_tensor_names_it_and_the_file()
    {
        using var file = SafetensorsFile.Open(Valid("absent"));
        var error = Assert.Throws<SharpTuneException>(() => file.ReadTensor("nope"));
        Assert.Contains("absent.safetensors", error.Message);
        Assert.Contains("'nope'", error.Message);
    }

    private string Valid(string name)
    {
        _ = TorchFixture.Runtime;
        string path = Path.Combine(_directory, name + ".safetensors");
        using var scope = NewDisposeScope();
        new SafetensorsWriter().Add("a", ones(4)).Add("b", ones(8)).Write(path);
        return path;
    }

    private static string Refused(string path)
    {
        var error = Assert.Throws<SharpTuneException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(Path.GetFileName(path), error.Message);
        return error.Message;
    }
}
