namespace SharpTune.Lora;

/// <summary>
/// LoRA settings, named as PEFT names them in <c>adapter_config.json</c>. The update of a projection W is
/// <c>scaling * B @ A</c> with A [r, in], B [out, r]; <c>scaling = alpha / r</c>, or <c>alpha / sqrt(r)</c> with rsLoRA.
/// </summary>
public sealed record LoraConfig
{
    /// <summary>The projections SharpTune can wrap, in HF's names, in model order.</summary>
    public static IReadOnlyList<string> AllTargets { get; } = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public int Rank { get; init; } = 16;

    public double Alpha { get; init; } = 16;

    public double Dropout { get; init; }

    /// <summary>HF projection names (q_proj ... down_proj); short names q, k, v, o, gate, up, down are accepted by <see cref="NormalizeTargets"/>.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = AllTargets;

    public bool UseRsLora { get; init; }

    /// <summary>Seed of the A matrices' Kaiming-uniform initialization.</summary>
    public long Seed { get; init; } = 3407;

    /// <summary>Written to <c>base_model_name_or_path</c>.</summary>
    public string? BaseModelNameOrPath { get; init; }

    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    /// <summary>Checks the settings; throws <see cref="SharpTuneException"/> naming the bad field.</summary>
    public LoraConfig Validated()
    {
        if (Rank <= 0)
        {
            throw new SharpTuneException($"lora rank (r) must be positive, got {Rank}");
        }

        if (Dropout is < 0 or >= 1)
        {
            throw new SharpTuneException($"lora dropout must be in [0, 1), got {Dropout}");
        }

        var targets = NormalizeTargets(TargetModules);
        return this with { TargetModules = targets };
    }

    /// <summary>Maps q,k,v,o,gate,up,down (or "all") to HF names, in model order; unknown names are an error.</summary>
    public static IReadOnlyList<string> NormalizeTargets(IEnumerable<string> names)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in names)
        {
            string name = raw.Trim().ToLowerInvariant();
            if (name is "all" or "all-linear" or "all_linear")
            {
                wanted.UnionWith(AllTargets);
                continue;
            }

            string full = name.EndsWith("_proj", StringComparison.Ordinal) ? name : name + "_proj";
            if (!AllTargets.Contains(full))
            {
                throw new SharpTuneException($"unknown LoRA target '{raw}': use q, k, v, o, gate, up, down (or q_proj ... down_proj, or all)");
            }

            wanted.Add(full);
        }

        if (wanted.Count == 0)
        {
            throw new SharpTuneException("no LoRA target modules given");
        }

        return AllTargets.Where(wanted.Contains).ToArray();
    }
}
