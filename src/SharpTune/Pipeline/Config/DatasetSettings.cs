namespace SharpTune.Pipeline.Config;

/// <summary>
/// The training rows: a Hugging Face dataset (<c>id</c>, <c>config</c>, <c>split</c>) or a local JSONL file
/// (<c>file</c>), of which the first <c>rows</c> are used (all when unset).
/// </summary>
public sealed record DatasetSettings(string? HubId, string? Config, string Split, string? File, int? Rows)
{
    internal static DatasetSettings Read(YamlSection section)
    {
        string? id = section.OptionalString("id");
        string? config = section.OptionalString("config");
        string split = section.String("split", "train");
        string? file = section.OptionalString("file");
        int? rows = section.OptionalInt("rows", min: 1);
        if (id is null && file is null)
        {
            section.MissingValue("id", "a Hub dataset id such as shibing624/medical, or 'file: datasets/medical/train.jsonl'");
        }
        else if (id is not null && file is not null)
        {
            section.Error("file", "'dataset' takes either 'id' (a Hub dataset) or 'file' (a local JSONL file), not both");
        }

        section.Finish();
        return new DatasetSettings(id, config, split, file, rows);
    }
}
