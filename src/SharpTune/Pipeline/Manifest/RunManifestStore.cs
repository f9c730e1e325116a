using System.Text.Json;
using System.Text.Json.Serialization;
using SharpTune.Pipeline.Cache;

namespace SharpTune.Pipeline.Manifest;

/// <summary>
/// Reads and updates run manifests: <c>&lt;output&gt;/runs/&lt;run-id&gt;/manifest.json</c>, with a copy under the
/// cache's <c>runs/&lt;pipeline&gt;/</c> so that <c>sharptune cache gc</c> knows which artifacts recent runs use.
/// Updates take a file lock and write through a temporary file and a rename.
/// </summary>
public static class RunManifestStore
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string PathFor(string outputDirectory, string runId) =>
        Path.GetFullPath(Path.Combine(outputDirectory, "runs", runId, RunManifest.FileName));

    /// <summary>A new run id: UTC time and a random suffix, e.g. 20261128-091500-3fa2.</summary>
    public static string NewRunId() => $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x10000):x4}";

    public static RunManifest? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Adds or replaces <paramref name="record"/> (by stage name) in the manifest at <paramref name="path"/>, creating it from <paramref name="create"/>.</summary>
    public static RunManifest Record(string path, Func<RunManifest> create, StageRecord record, ArtifactCache cache)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var gate = AcquireLock(path + ".lock");
        var manifest = TryRead(path) ?? create();
        var stages = manifest.Stages.Where(s => s.Stage != record.Stage).Append(record).ToList();
        manifest = manifest with { Stages = stages, Updated = DateTimeOffset.UtcNow };
        string text = JsonSerializer.Serialize(manifest, Json);
        WriteAtomically(path, text);

        string copy = Path.Combine(cache.Root, ArtifactCache.RunsFolder, manifest.Pipeline, manifest.RunId + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        WriteAtomically(copy, text);
        return manifest;
    }

    /// <summary>The manifest copies kept in the cache, newest first within each pipeline.</summary>
    public static IReadOnlyList<RunManifest> ListInCache(ArtifactCache cache)
    {
        string runs = Path.Combine(cache.Root, ArtifactCache.RunsFolder);
        if (!Directory.Exists(runs))
        {
            return [];
        }

        return Directory.EnumerateFiles(runs, "*.json", SearchOption.AllDirectories)
            .Select(TryRead)
            .OfType<RunManifest>()
            .OrderBy(m => m.Pipeline, StringComparer.Ordinal)
            .ThenByDescending(m => m.Updated)
            .ToList();
    }

    internal static void WriteAtomically(string path, string text)
    {
        string temp = $"{path}.tmp-{Environment.ProcessId}";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    private static FileStream AcquireLock(string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
    }
}
