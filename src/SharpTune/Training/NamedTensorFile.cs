using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Trainer state on disk: named tensors in TorchSharp's tensor format behind a small header
/// ("SHTS", version, count, then name + tensor for each). Written to a temp file and renamed.
/// </summary>
public static class NamedTensorFile
{
    private const uint Magic = 0x53544853; // "SHTS"
    private const int Version = 1;

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(tensors.Count);
            foreach (var (name, value) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.Write(name);
                using var cpu = value.detach().cpu().contiguous();
                cpu.Save(writer);
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads the tensors onto the CPU; the caller owns them.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: trainer state file is missing");
        }

        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        if (reader.ReadUInt32() != Magic || reader.ReadInt32() != Version)
        {
            throw new SharpTuneException($"{path}: not a SharpTune trainer state file (or an unsupported version)");
        }

        int count = reader.ReadInt32();
        var result = new Dictionary<string, Tensor>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            result[name] = Tensor.Load(reader).DetachFromDisposeScope();
        }

        return result;
    }
}
