namespace SharpTune.Pipeline.Config;

/// <summary>
/// Where the base model comes from: a Hugging Face Hub repository (<c>id</c>, <c>revision</c>), or a tiny model with
/// random weights that SharpTune makes itself (<c>init: {arch, size, seed}</c>) for CPU runs and tests.
/// </summary>
public sealed record ModelSettings(string? HubId, string Revision, InitModelSettings? Init, string? Tokenizer)
{
    public static readonly string[] Architectures = ["llama", "qwen2", "qwen3"];
    public static readonly string[] Sizes = ["tiny", "small"];

    internal static ModelSettings Read(YamlSection section)
    {
        string? id = section.OptionalString("id");
        string revision = section.String("revision", "main");
        string? tokenizer = section.OptionalString("tokenizer");
        InitModelSettings? init = null;
        if (section.Section("init") is { } initSection)
        {
            init = new InitModelSettings(
                initSection.Choice("arch", "llama", Architectures),
                initSection.Choice("size", "tiny", Sizes),
                initSection.Int("seed", 3407));
            initSection.Finish();
        }

        if (id is null && init is null)
        {
            section.MissingValue("id", "a Hub model id such as meta-llama/Llama-3.2-1B, or 'init: {arch: llama, size: tiny}'");
        }
        else if (id is not null && init is not null)
        {
            section.Error("init", "'model' takes either 'id' (a Hub model) or 'init' (a tiny model made locally), not both");
        }

        section.Finish();
        return new ModelSettings(id, revision, init, tokenizer);
    }
}

/// <summary>A model SharpTune creates with random weights: a real architecture at a tiny size.</summary>
public sealed record InitModelSettings(string Arch, string Size, int Seed);
