namespace SharpTune.Pipeline.Config;

/// <summary>How the frozen base weights are stored for training: NF4 in blocks of 64 (QLoRA), or left in 16 bits (plain LoRA).</summary>
public sealed record QuantizeSettings(string Type, bool DoubleQuant)
{
    public static readonly string[] Types = ["nf4", "none"];

    public bool Enabled => Type != "none";

    internal static QuantizeSettings Read(YamlSection section)
    {
        var settings = new QuantizeSettings(
            section.Choice("type", "nf4", Types),
            section.Bool("double_quant", true));
        section.Finish();
        return settings;
    }
}
