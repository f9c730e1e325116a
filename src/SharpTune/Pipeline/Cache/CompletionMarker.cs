using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// <c>complete.json</c>: written last into an artifact directory, it is what makes the directory a cache hit. It
/// records the key (and the document it hashes), the digest of the other files and what the stage produced.
/// </summary>
public sealed record CompletionMarker(
    int Schema,
    string Stage,
    string Key,
    string Digest,
    DateTimeOffset Completed,
    double Seconds,
    string ToolVersion,
    JsonObject? KeyDocument,
    IReadOnlyDictionary<string, string> Outputs)
{
    public const string FileName = "complete.json";
    public const int CurrentSchema = 1;

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads the marker in <paramref name="directory"/>; null when it is missing, unreadable or not this schema.</summary>
    public static CompletionMarker? TryRead(string directory)
    {
        string path = Path.Combine(directory, FileName);
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            var marker = JsonSerializer.Deserialize<CompletionMarker>(File.ReadAllText(path), Json);
            return marker is { Schema: CurrentSchema, Key.Length: 64, Digest.Length: 64 } ? marker : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Writes the marker through a temporary file and a rename, so it is either whole or absent.</summary>
    public void WriteTo(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, path, overwrite: true);
    }
}
