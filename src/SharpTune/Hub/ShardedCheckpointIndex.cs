using System.Text.Json;

namespace SharpTune.Hub;

/// <summary>
/// A sharded checkpoint's index (<c>model.safetensors.index.json</c>, <c>pytorch_model.bin.index.json</c>): its
/// <c>weight_map</c> names, for each tensor, the shard file that holds it. Downloading the index means downloading
/// every shard it names.
/// </summary>
public static class ShardedCheckpointIndex
{
    public static bool IsIndexFile(string path) => path.EndsWith(".safetensors.index.json", StringComparison.Ordinal)
        || path.EndsWith(".bin.index.json", StringComparison.Ordinal);

    /// <summary>The distinct shard paths an index names, relative to the repo root (the index's own folder prepended).</summary>
    public static IReadOnlyList<string> ShardPaths(string indexJson, string indexPath, string repoId)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(indexJson);
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{repoId}/{indexPath}: not valid JSON ({e.Message})");
        }

        using (document)
        {
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SharpTuneException($"{repoId}/{indexPath}: no 'weight_map' object");
            }

            string folder = indexPath.Contains('/') ? indexPath[..(indexPath.LastIndexOf('/') + 1)] : "";
            var shards = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var tensor in map.EnumerateObject())
            {
                string? shard = tensor.Value.ValueKind == JsonValueKind.String ? tensor.Value.GetString() : null;
                shards.Add(RepoFilePath.Check(folder + RepoFilePath.Check(shard, repoId), repoId));
            }

            return [.. shards];
        }
    }
}
