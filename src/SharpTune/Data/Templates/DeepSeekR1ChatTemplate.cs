namespace SharpTune.Data.Templates;

/// <summary>
/// DeepSeek-R1 and its distills (Llama, Qwen): BOS, the (last) system prompt as plain text, then
/// <c>&lt;｜User｜&gt;</c> + question and <c>&lt;｜Assistant｜&gt;</c> + answer + <c>&lt;｜end▁of▁sentence｜&gt;</c>;
/// an assistant answer keeps only what follows its last <c>&lt;/think&gt;</c>, as the official template does. The
/// generation prompt is <c>&lt;｜Assistant｜&gt;&lt;think&gt;\n</c>. Tool calls are not supported.
/// </summary>
public sealed class DeepSeekR1ChatTemplate(string bosToken = "<｜begin▁of▁sentence｜>") : IChatTemplate
{
    public const string EndOfSentence = "<｜end▁of▁sentence｜>";

    public string Name => "deepseek-r1";

    public IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        string system = messages.LastOrDefault(m => m.Role == "system")?.Content ?? "";
        var segments = new List<PromptSegment>();
        string pending = bosToken + system;
        foreach (var message in messages)
        {
            switch (message.Role)
            {
                case "system":
                    break;
                case "user":
                    pending += "<｜User｜>" + message.Content;
                    break;
                case "assistant":
                    string content = message.Content;
                    int close = content.LastIndexOf("</think>", StringComparison.Ordinal);
                    if (close >= 0)
                    {
                        content = content[(close + "</think>".Length)..];
                    }

                    segments.Add(new PromptSegment(pending + "<｜Assistant｜>", false));
                    segments.Add(new PromptSegment(content + EndOfSentence, true));
                    pending = "";
                    break;
                default:
                    throw this.UnsupportedRole(message.Role);
            }
        }

        if (addGenerationPrompt)
        {
            pending += "<｜Assistant｜><think>\n";
        }

        if (pending.Length > 0)
        {
            segments.Add(new PromptSegment(pending, false));
        }

        return segments;
    }
}
