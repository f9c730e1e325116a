using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// <c>manifest.json</c> of a tokenized dataset: the key of the inputs and settings it was made from (reused when
/// unchanged), a hash of its content, and its shards.
/// </summary>
public sealed record TokenizedDatasetManifest(
    string Format,
    string Key,
    string ContentHash,
    long Rows,
    long Tokens,
    int MaxLength,
    string Template,
    string Tokenizer,
    string Source,
    IReadOnlyList<TokenizedShardInfo> Shards)
{
    public const string CurrentFormat = "sharptune-tokenized/1";
    public const string FileName = "manifest.json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static TokenizedDatasetManifest Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: not found (not a tokenized dataset directory)");
        }

        try
        {
            var manifest = JsonSerializer.Deserialize<TokenizedDatasetManifest>(File.ReadAllText(path), Json)
                ?? throw new SharpTuneException($"{path}: empty manifest");
            if (manifest.Format != CurrentFormat)
            {
                throw new SharpTuneException($"{path}: format '{manifest.Format}' is not supported (expected {CurrentFormat})");
            }

            return manifest;
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{path}: unreadable manifest ({e.Message})", e);
        }
    }
}

/// <summary>One shard file: its name, sample count and SHA-256.</summary>
public sealed record TokenizedShardInfo(string File, int Rows, long Tokens, string Sha256);
