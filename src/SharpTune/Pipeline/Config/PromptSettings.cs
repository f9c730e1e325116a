namespace SharpTune.Pipeline.Config;

/// <summary>How rows become training text: a named prompt template, the token limit, whether EOS is appended.</summary>
public sealed record PromptSettings(string Template, int MaxSequenceLength, bool AppendEos)
{
    internal static PromptSettings Read(YamlSection section)
    {
        var settings = new PromptSettings(
            section.String("template", "medical-cot"),
            section.Int("max_seq_length", 2048, min: 8, max: 1 << 20),
            section.Bool("append_eos", true));
        section.Finish();
        return settings;
    }
}
