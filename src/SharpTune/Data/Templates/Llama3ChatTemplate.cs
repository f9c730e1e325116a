namespace SharpTune.Data.Templates;

/// <summary>
/// Llama 3 / 3.1 Instruct: BOS, then per message <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n</c> +
/// trimmed content + <c>&lt;|eot_id|&gt;</c>; the generation prompt opens an assistant header.
/// </summary>
public sealed class Llama3ChatTemplate(string bosToken = "<|begin_of_text|>") : IChatTemplate
{
    public string Name => "llama3";

    public IReadOnlyList<PromptSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var segments = new List<PromptSegment>();
        string pending = bosToken;
        foreach (var message in messages)
        {
            string header = $"<|start_header_id|>{message.Role}<|end_header_id|>\n\n";
            string body = message.Content.Trim() + "<|eot_id|>";
            if (message.Role == "assistant")
            {
                segments.Add(new PromptSegment(pending + header, false));
                segments.Add(new PromptSegment(body, true));
                pending = "";
            }
            else
            {
                pending += header + body;
            }
        }

        if (addGenerationPrompt)
        {
            pending += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        }

        if (pending.Length > 0)
        {
            segments.Add(new PromptSegment(pending, false));
        }

        return segments;
    }
}
