using System.Text;

namespace SharpTune.Gguf;

/// <summary>
/// Writes an Ollama <c>Modelfile</c> for a GGUF file: FROM, a TEMPLATE in Go template syntax for the model's chat
/// format, PARAMETER stop for that format's stop strings, and an optional SYSTEM message.
/// </summary>
public static class OllamaModelfile
{
    private sealed record Family(string Template, string[] Stops);

    private static readonly Dictionary<ChatTemplateFamily, Family> Families = new()
    {
        [ChatTemplateFamily.Llama3] = new(
            "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}" +
            "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>",
            ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]),
        [ChatTemplateFamily.ChatMl] = new(
            "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}" +
            "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}" +
            "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
            ["<|im_start|>", "<|im_end|>"]),
        [ChatTemplateFamily.Mistral] = new(
            "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }} [/INST]{{ .Response }}",
            ["[INST]", "[/INST]"]),
        [ChatTemplateFamily.Llama2] = new(
            "[INST] {{ if .System }}<<SYS>>\n{{ .System }}\n<</SYS>>\n\n{{ end }}{{ .Prompt }} [/INST] {{ .Response }}",
            ["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"]),
        [ChatTemplateFamily.DeepSeekR1] = new(
            "{{ if .System }}{{ .System }}{{ end }}" +
            "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}" +
            "{{ if eq .Role \"user\" }}<\uff5cUser\uff5c>{{ .Content }}" +
            "{{ else if eq .Role \"assistant\" }}<\uff5cAssistant\uff5c>{{ .Content }}{{ if not $last }}<\uff5cend\u2581of\u2581sentence\uff5c>{{ end }}{{ end }}" +
            "{{ if and $last (ne .Role \"assistant\") }}<\uff5cAssistant\uff5c>{{ end }}{{ end }}",
            ["<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>"]),
        [ChatTemplateFamily.Raw] = new("{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}{{ .Response }}", []),
    };

    /// <summary>Recognises the family of a Jinja chat template by its role markers.</summary>
    public static ChatTemplateFamily Recognise(string? chatTemplate) => chatTemplate switch
    {
        null or "" => ChatTemplateFamily.Raw,
        _ when chatTemplate.Contains("<\uff5cAssistant\uff5c>", StringComparison.Ordinal) => ChatTemplateFamily.DeepSeekR1,
        _ when chatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal) => ChatTemplateFamily.Llama3,
        _ when chatTemplate.Contains("<|im_start|>", StringComparison.Ordinal) => ChatTemplateFamily.ChatMl,
        _ when chatTemplate.Contains("<<SYS>>", StringComparison.Ordinal) => ChatTemplateFamily.Llama2,
        _ when chatTemplate.Contains("[INST]", StringComparison.Ordinal) => ChatTemplateFamily.Mistral,
        _ => ChatTemplateFamily.Raw,
    };

    /// <summary>The Go template Ollama uses for <paramref name="family"/>.</summary>
    public static string Template(ChatTemplateFamily family) => Families[family].Template;

    public static IReadOnlyList<string> StopStrings(ChatTemplateFamily family) => Families[family].Stops;

    /// <param name="ggufFileName">The GGUF path as FROM should name it (usually "./model.q4_k_m.gguf").</param>
    public static string Create(string ggufFileName, ChatTemplateFamily family, string? system = null)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(ggufFileName).Append('\n');
        text.Append("TEMPLATE \"\"\"").Append(Families[family].Template).Append("\"\"\"\n");
        foreach (var stop in Families[family].Stops)
        {
            text.Append("PARAMETER stop \"").Append(Escape(stop)).Append("\"\n");
        }

        if (!string.IsNullOrEmpty(system))
        {
            text.Append("SYSTEM \"\"\"").Append(system.Replace("\"\"\"", "\\\"\\\"\\\"", StringComparison.Ordinal)).Append("\"\"\"\n");
        }

        return text.ToString();
    }

    /// <summary>Writes <c>Modelfile</c> (or <paramref name="modelfileName"/>) beside the GGUF file, atomically.</summary>
    public static string WriteBeside(string ggufPath, string? chatTemplate, string? system = null, string modelfileName = "Modelfile")
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(ggufPath))!;
        string path = Path.Combine(directory, modelfileName);
        string temp = path + $".tmp-{Environment.ProcessId}";
        File.WriteAllText(temp, Create("./" + Path.GetFileName(ggufPath), Recognise(chatTemplate), system), new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
        return path;
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
