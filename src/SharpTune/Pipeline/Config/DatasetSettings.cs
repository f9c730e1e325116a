namespace SharpTune.Pipeline.Config;

/// <summary>
/// The training rows: a Hugging Face dataset (<c>id</c>, <c>config</c>, <c>split</c>) or a local JSONL file
/// (<c>file</c>), of which the first <c>rows</c> are used (all when unset), and the <c>held_out</c> rows after them
/// are kept apart for the held-out loss of Evaluate.
/// </summary>
public sealed record DatasetSettings(string? HubId, string? Config, string Split, string? File, int? Rows, int HeldOut)
{
    internal static DatasetSettings Read(YamlSection section)
    {
        string? id = section.OptionalString("id");
        string? config = section.OptionalString("config");
        string split = section.String("split", "train");
        string? file = section.OptionalString("file");
        int? rows = section.OptionalInt("rows", min: 1);
        int heldOut = section.Int("held_out", 16, min: 0);
        if (rows is null && heldOut > 0 && section.Has("held_out"))
        {
            section.Error("held_out", "'dataset.held_out' needs 'dataset.rows': the held-out rows are the ones after the training rows");
        }
        if (id is null && file is null)
        {
            section.MissingValue("id", "a Hub dataset id such as shibing624/medical, or 'file: datasets/medical/train.jsonl'");
        }
        else if (id is not null && file is not null)
        {
            section.Error("file", "'dataset' takes either 'id' (a Hub dataset) or 'file' (a local JSONL file), not both");
        }

        section.Finish();
        return new DatasetSettings(id, config, split, file, rows, rows is null ? 0 : heldOut);
    }
}
