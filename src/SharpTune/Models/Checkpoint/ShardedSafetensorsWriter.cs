using System.Text.Json;
using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// Writes named tensors as Hugging Face shards (<c>model-00001-of-0000N.safetensors</c>) plus
/// <c>model.safetensors.index.json</c>, each file written atomically; one shard becomes a plain
/// <c>model.safetensors</c>. A shard closes when adding the next tensor would pass <c>maxShardBytes</c>.
/// </summary>
public static class ShardedSafetensorsWriter
{
    public static IReadOnlyList<string> Write(string directory, IEnumerable<(string Name, Tensor Tensor)> tensors, long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var shards = new List<SafetensorsWriter> { new() };
        foreach (var (name, tensor) in tensors)
        {
            long bytes = tensor.NumberOfElements * tensor.ElementSize;
            if (shards[^1].DataBytes > 0 && shards[^1].DataBytes + bytes > maxShardBytes)
            {
                shards.Add(new SafetensorsWriter());
            }

            shards[^1].Add(name, tensor);
        }

        System.IO.Directory.CreateDirectory(directory);
        if (shards.Count == 1)
        {
            string path = System.IO.Path.Combine(directory, CheckpointDirectory.SingleFileName);
            shards[0].Write(path, metadata);
            return [path];
        }

        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < shards.Count; i++)
        {
            string fileName = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            string path = System.IO.Path.Combine(directory, fileName);
            shards[i].Write(path, metadata);
            written.Add(path);
            total += shards[i].DataBytes;
            foreach (var entry in shards[i].Entries)
            {
                weightMap[entry.Name] = fileName;
            }
        }

        var index = new { metadata = new { total_size = total }, weight_map = weightMap };
        string indexPath = System.IO.Path.Combine(directory, CheckpointDirectory.IndexFileName);
        AtomicFile.WriteAllText(indexPath, JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        written.Add(indexPath);
        return written;
    }
}
