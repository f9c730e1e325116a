namespace SharpTune.Data.Sources;

/// <summary>
/// A Hugging Face Hub dataset: id (e.g. <c>shibing624/medical</c>), config/subset (e.g. <c>finetune</c>), split,
/// revision, and an optional row range (the reference run uses the first 200 rows of train).
/// </summary>
public sealed record HubDatasetReference(string DatasetId, string? Config = null, string Split = "train", string? Revision = null, long RowStart = 0, long? RowCount = null)
{
    /// <summary>Parses <c>hf://owner/name[:config][@revision]</c>, as the CLI and pipeline YAML write it.</summary>
    public static bool TryParse(string text, out HubDatasetReference reference)
    {
        reference = null!;
        if (!text.StartsWith("hf://", StringComparison.Ordinal))
        {
            return false;
        }

        string rest = text["hf://".Length..];
        string? revision = null;
        int at = rest.LastIndexOf('@');
        if (at > 0)
        {
            revision = rest[(at + 1)..];
            rest = rest[..at];
        }

        string? config = null;
        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            config = rest[(colon + 1)..];
            rest = rest[..colon];
        }

        if (rest.Count(c => c == '/') != 1)
        {
            return false;
        }

        reference = new HubDatasetReference(rest, config, Revision: revision);
        return true;
    }

    public override string ToString() => $"hf://{DatasetId}{(Config is null ? "" : ":" + Config)}{(Revision is null ? "" : "@" + Revision)} split {Split}";
}
