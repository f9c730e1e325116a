using System.Globalization;

namespace SharpTune.Training;

/// <summary>
/// The text of the <c>checkpoint_layers</c> setting (<see cref="TrainingOptions.CheckpointLayers"/>, <c>bench
/// --checkpoint-layers</c>, a pipeline's <c>training.checkpoint_layers</c>): null for every layer, "auto", or a
/// number of layers.
/// </summary>
public static class CheckpointLayersValue
{
    public const string Auto = "auto";

    /// <summary>Whether <paramref name="text"/> is "auto" (any case, surrounding spaces ignored).</summary>
    public static bool IsAuto(string? text) => string.Equals(text?.Trim(), Auto, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Reads <paramref name="text"/>: true for null and "auto" (<paramref name="count"/> null) and for a non-negative
    /// number of layers (<paramref name="count"/> that number); false for anything else.
    /// </summary>
    public static bool TryParse(string? text, out int? count)
    {
        count = null;
        if (text is null || IsAuto(text))
        {
            return true;
        }

        if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            count = n;
            return true;
        }

        return false;
    }
}
