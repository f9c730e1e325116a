namespace SharpTune.Pipeline.Config;

/// <summary>The LoRA adapter: rank, alpha, dropout and which projections it wraps (Hugging Face names).</summary>
public sealed record LoraSettings(int Rank, double Alpha, double Dropout, IReadOnlyList<string> Targets)
{
    public static readonly string[] AllTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    internal static LoraSettings Read(YamlSection section)
    {
        var targets = section.StringList("targets", AllTargets, AllTargets);
        if (targets.Count == 0)
        {
            section.Error("targets", "'lora.targets' must name at least one projection");
        }

        var settings = new LoraSettings(
            section.Int("r", 16, min: 1, max: 4096),
            section.Double("alpha", 16, min: 0),
            section.Double("dropout", 0, min: 0, max: 0.99),
            targets);
        section.Finish();
        return settings;
    }

    public bool Equals(LoraSettings? other) =>
        other is not null && Rank == other.Rank && Alpha.Equals(other.Alpha) && Dropout.Equals(other.Dropout) && Targets.SequenceEqual(other.Targets);

    public override int GetHashCode() => HashCode.Combine(Rank, Alpha, Dropout, string.Join(",", Targets));
}
