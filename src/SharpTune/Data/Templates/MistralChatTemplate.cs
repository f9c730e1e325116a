namespace SharpTune.Data.Templates;

/// <summary>
/// Mistral Instruct v0.1 / Llama 2 style: BOS, then <c>[INST] user [/INST]</c> and the assistant's answer followed by
/// EOS, alternating user/assistant (no system role). There is no generation prompt beyond the last <c>[/INST]</c>.
/// </summary>
public sealed class MistralChatTemplate(string bosToken = "<s>", string eosToken = "</s>") : IChatTemplate
{
    public string Name => "mistral";

    public IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var segments = new List<PromptSegment>();
        string pending = bosToken;
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if ((message.Role == "user") != (i % 2 == 0))
            {
                throw new SharpTuneException($"chat template {Name}: roles must alternate user/assistant/user/...; message {i} is '{message.Role}'");
            }

            if (message.Role == "user")
            {
                pending += "[INST] " + message.Content + " [/INST]";
            }
            else if (message.Role == "assistant")
            {
                segments.Add(new PromptSegment(pending, false));
                segments.Add(new PromptSegment(message.Content + eosToken, true));
                pending = "";
            }
            else
            {
                throw this.UnsupportedRole(message.Role);
            }
        }

        if (pending.Length > 0)
        {
            segments.Add(new PromptSegment(pending, false));
        }

        return segments;
    }
}
