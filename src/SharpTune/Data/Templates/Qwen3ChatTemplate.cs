namespace SharpTune.Data.Templates;

/// <summary>
/// Qwen3 (ChatML with thinking): like <see cref="ChatMlTemplate"/>, but an assistant turn after the last user query
/// is written as <c>&lt;think&gt;\nreasoning\n&lt;/think&gt;\n\n</c> + answer (reasoning taken from a
/// <c>&lt;think&gt;…&lt;/think&gt;</c> prefix of its content, empty if none, as the official template does); earlier
/// assistant turns lose their reasoning. A system message is allowed first only; tools are not supported.
/// </summary>
public sealed class Qwen3ChatTemplate : IChatTemplate
{
    public string Name => "qwen3";

    public IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        int lastQuery = messages.Count - 1;
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            var m = messages[i];
            if (m.Role == "user" && !(m.Content.StartsWith("<tool_response>", StringComparison.Ordinal) && m.Content.EndsWith("</tool_response>", StringComparison.Ordinal)))
            {
                lastQuery = i;
                break;
            }
        }

        var segments = new List<PromptSegment>();
        string pending = "";
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            switch (message.Role)
            {
                case "system" when i == 0:
                    pending += $"<|im_start|>system\n{message.Content}<|im_end|>\n";
                    break;
                case "user" or "system":
                    pending += $"<|im_start|>{message.Role}\n{message.Content}<|im_end|>\n";
                    break;
                case "assistant":
                    string content = message.Content;
                    string reasoning = "";
                    int close = content.LastIndexOf("</think>", StringComparison.Ordinal);
                    if (close >= 0)
                    {
                        int firstClose = content.IndexOf("</think>", StringComparison.Ordinal);
                        string before = content[..firstClose].TrimEnd('\n');
                        int open = before.LastIndexOf("<think>", StringComparison.Ordinal);
                        reasoning = (open >= 0 ? before[(open + "<think>".Length)..] : before).TrimStart('\n');
                        content = content[(close + "</think>".Length)..].TrimStart('\n');
                    }

                    string body = i > lastQuery && (i == messages.Count - 1 || reasoning.Length > 0)
                        ? "<think>\n" + reasoning.Trim('\n') + "\n</think>\n\n" + content.TrimStart('\n')
                        : content;
                    segments.Add(new PromptSegment(pending + "<|im_start|>assistant\n", false));
                    segments.Add(new PromptSegment(body + "<|im_end|>\n", true));
                    pending = "";
                    break;
                default:
                    throw this.UnsupportedRole(message.Role);
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
