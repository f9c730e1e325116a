namespace SharpTune.Data.Templates;

/// <summary>
/// ChatML (Qwen2/2.5 and many fine-tunes): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message; the
/// generation prompt is <c>&lt;|im_start|&gt;assistant\n</c>. An assistant turn's completion is its content,
/// <c>&lt;|im_end|&gt;</c> and the newline.
/// </summary>
public sealed class ChatMlTemplate : IChatTemplate
{
    public string Name => "chatml";

    public IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var segments = new List<PromptSegment>();
        string pending = "";
        foreach (var message in messages)
        {
            if (message.Role == "assistant")
            {
                segments.Add(new PromptSegment(pending + "<|im_start|>assistant\n", false));
                segments.Add(new PromptSegment(message.Content + "<|im_end|>\n", true));
                pending = "";
            }
            else
            {
                pending += $"<|im_start|>{message.Role}\n{message.Content}<|im_end|>\n";
            }
        }

        if (addGenerationPrompt)
        {
            pending += "<|im_start|>assistant\n";
        }

        if (pending.Length > 0)
        {
            segments.Add(new PromptSegment(pending, false));
        }

        return segments;
    }
}
