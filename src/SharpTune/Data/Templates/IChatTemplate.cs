namespace SharpTune.Data.Templates;

/// <summary>
/// A model family's chat format as a C# renderer (not a Jinja engine); its output equals Hugging Face
/// <c>apply_chat_template(messages, tokenize=False, add_generation_prompt=...)</c> with that family's template
/// (checked in tests against tests/fixtures/chat). Assistant turns (with their end-of-turn marker) are completion
/// segments.
/// </summary>
public interface IChatTemplate
{
    string Name { get; }

    IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}

/// <summary>Conveniences over <see cref="IChatTemplate"/>.</summary>
public static class ChatTemplateExtensions
{
    public static string Format(this IChatTemplate template, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        string.Concat(template.Render(messages, addGenerationPrompt).Select(s => s.Text));

    internal static SharpTuneException UnsupportedRole(this IChatTemplate template, string role) =>
        new($"chat template {template.Name}: role '{role}' is not supported");
}
