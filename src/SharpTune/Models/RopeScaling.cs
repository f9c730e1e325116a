namespace SharpTune.Models;

/// <summary>
/// How rotary position frequencies are computed: the base <see cref="Theta"/> and, for <c>rope_type</c>
/// "llama3" (Llama 3.1/3.2), the wavelength-dependent rescaling of the inverse frequencies.
/// </summary>
public sealed record RopeScaling(
    string Type,
    double Theta,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192)
{
    public const string Default = "default";
    public const string Llama3 = "llama3";
}
