using System.Runtime.InteropServices;
using SharpTune.Models.Checkpoint;

namespace SharpTune.Gguf;

/// <summary>
/// The engine's <see cref="CheckpointDirectory"/> (memory-mapped safetensors, single or sharded through
/// <c>model.safetensors.index.json</c>) as an export source: tensors are converted to float32 slice by slice from the
/// mapped bytes, without libtorch.
/// </summary>
public sealed class CheckpointTensorSource : IHfTensorSource
{
    private readonly CheckpointDirectory _checkpoint;
    private readonly string[] _names;

    private CheckpointTensorSource(CheckpointDirectory checkpoint)
    {
        _checkpoint = checkpoint;
        _names = checkpoint.TensorNames.ToArray();
    }

    public static CheckpointTensorSource Open(string modelDirectory) => new(CheckpointDirectory.Open(modelDirectory));

    public string Description => _checkpoint.Directory;

    public IReadOnlyCollection<string> Names => _names;

    public (IReadOnlyList<long> Shape, string DType) Describe(string name)
    {
        var info = _checkpoint.Info(name);
        return (info.Shape, info.DType.Name());
    }

    public void ReadFloat32(string name, long firstElement, Span<float> destination)
    {
        var info = _checkpoint.Info(name);
        int size = info.DType.ElementSize();
        if (firstElement < 0 || firstElement + destination.Length > info.ElementCount)
        {
            throw new ArgumentOutOfRangeException(nameof(firstElement), $"{name}: elements {firstElement}..{firstElement + destination.Length} of {info.ElementCount}");
        }

        ReadOnlySpan<byte> slice;
        if (info.ByteLength <= int.MaxValue)
        {
            slice = _checkpoint.GetBytes(name).Slice(checked((int)(firstElement * size)), destination.Length * size);
        }
        else
        {
            // A span cannot cover a tensor over 2 GiB (an f32 embedding of a large vocabulary): read the slice from the file.
            var buffer = new byte[destination.Length * size];
            string path = _checkpoint.FileOf(name).Path;
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            Span<byte> prefix = stackalloc byte[8];
            RandomAccess.Read(handle, prefix, 0);
            long dataStart = 8 + BitConverter.ToInt64(prefix);
            long offset = dataStart + info.Begin + firstElement * size;
            for (int done = 0; done < buffer.Length;)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(done), offset + done);
                done += n > 0 ? n : throw new SharpTuneException($"{path}: file ended inside tensor '{name}'");
            }

            slice = buffer;
        }

        switch (info.DType.Name())
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(slice).CopyTo(destination);
                break;
            case "BF16":
                var bf = MemoryMarshal.Cast<byte, ushort>(slice);
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = Bf16Codec.ToFloat(bf[i]);
                }

                break;
            case "F16":
                var half = MemoryMarshal.Cast<byte, Half>(slice);
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)half[i];
                }

                break;
            default:
                throw new SharpTuneException($"{_checkpoint.Directory}: tensor '{name}' has dtype {info.DType.Name()}; GGUF export reads F32, F16 and BF16");
        }
    }

    public void Dispose() => _checkpoint.Dispose();
}
