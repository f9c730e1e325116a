using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Pipeline.Cache;

namespace SharpTune.Pipeline.Stages;

/// <summary>Builds stages' resolved settings: records as snake_case JSON, local files and folders by content hash.</summary>
public static class StageSettings
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>A settings object starting with the stage's <paramref name="revision"/> (bumped when its output format changes).</summary>
    public static JsonObject Create(int revision) => new() { ["revision"] = revision };

    public static JsonNode ToJson<T>(T value) => JsonSerializer.SerializeToNode(value, Json)!;

    /// <summary>{path, sha256} of a local file; a user error naming the setting when it is missing.</summary>
    public static JsonObject File(string path, string setting)
    {
        if (!System.IO.File.Exists(path))
        {
            throw new SharpTuneException($"{setting}: file not found: {path} (relative paths are relative to {Environment.CurrentDirectory})");
        }

        using var stream = System.IO.File.OpenRead(path);
        return new JsonObject { ["path"] = path.Replace('\\', '/'), ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(stream)) };
    }

    /// <summary>{path, digest} of a local folder; a user error naming the setting when it is missing.</summary>
    public static JsonObject Folder(string path, string setting, string? hint = null)
    {
        if (!Directory.Exists(path))
        {
            throw new SharpTuneException($"{setting}: folder not found: {path}{(hint is null ? "" : " (" + hint + ")")}");
        }

        return new JsonObject { ["path"] = path.Replace('\\', '/'), ["digest"] = DirectoryDigest.Compute(path) };
    }
}
