using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// The cache key of a stage's output: SHA-256 (hex) of the canonical JSON of the stage's name, its resolved
/// settings, its inputs (each input's own key and the digest of that input's files) and the tool's version.
/// Anything that could change the output changes the key; nothing else does (no paths of the cache, no times,
/// no secrets).
/// </summary>
public sealed record ArtifactKey(string Value, string Document)
{
    public static ArtifactKey Compute(string stage, JsonObject settings, IReadOnlyDictionary<string, ArtifactInput> inputs, string toolVersion)
    {
        var inputsNode = new JsonObject();
        foreach (var (name, input) in inputs)
        {
            inputsNode[name] = new JsonObject { ["key"] = input.Key, ["digest"] = input.Digest };
        }

        var document = new JsonObject
        {
            ["stage"] = stage,
            ["settings"] = settings.DeepClone(),
            ["inputs"] = inputsNode,
            ["tool"] = toolVersion,
        };
        string canonical = CanonicalJson.Serialize(document);
        return new ArtifactKey(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), canonical);
    }

    /// <summary>The first 12 hex digits, for messages.</summary>
    public string Short => Value[..12];

    public override string ToString() => Value;
}

/// <summary>An input artifact as a key sees it: its key and the digest of its files.</summary>
public sealed record ArtifactInput(string Key, string Digest);
