using SharpTune.Data.Templates;

namespace SharpTune.Pipeline.Config;

/// <summary>How rows become training text: a built-in prompt template (it decides whether EOS ends the answer) and the token limit.</summary>
public sealed record PromptSettings(string Template, int MaxSequenceLength)
{
    internal static PromptSettings Read(YamlSection section)
    {
        var settings = new PromptSettings(
            section.Choice("template", "medical-cot", [.. PromptTemplateCatalog.Names]),
            section.Int("max_seq_length", 2048, min: 8, max: 1 << 20));
        section.Finish();
        return settings;
    }
}
