using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

public sealed class OllamaModelfileTests
{
    [Theory]
    [InlineData("{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>{% endfor %}", ChatTemplateFamily.Llama3)]
    [InlineData("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}", ChatTemplateFamily.ChatMl)]
    [InlineData("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", ChatTemplateFamily.Mistral)]
    [InlineData("[INST] <<SYS>>\n{{ system }}\n<</SYS>>", ChatTemplateFamily.Llama2)]
    [InlineData("{% for m in messages %}<\uff5cUser\uff5c>{{ m.content }}<\uff5cAssistant\uff5c>{% endfor %}", ChatTemplateFamily.DeepSeekR1)]
    [InlineData(null, ChatTemplateFamily.Raw)]
    public void The_chat_template_family_is_recognised(string? template, ChatTemplateFamily expected) =>
        Assert.Equal(expected, OllamaModelfile.Recognise(template));

    [Fact]
    public void Llama3_modelfile_has_from_template_stops_and_system()
    {
        string text = OllamaModelfile.Create("./model.q4_k_m.gguf", ChatTemplateFamily.Llama3, "You are a doctor.");
        var lines = text.Split('\n');
        Assert.Equal("FROM ./model.q4_k_m.gguf", lines[0]);
        Assert.StartsWith("TEMPLATE \"\"\"{{ if .System }}<|start_header_id|>system<|end_header_id|>", lines[1]);
        Assert.Contains("{{ .Prompt }}<|eot_id|>", text);
        Assert.Contains("<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>\"\"\"", text);
        Assert.Contains("PARAMETER stop \"<|eot_id|>\"", lines);
        Assert.Contains("PARAMETER stop \"<|start_header_id|>\"", lines);
        Assert.Contains("SYSTEM \"\"\"You are a doctor.\"\"\"", lines);
        Assert.Equal(CountOf(text, "{{ if"), CountOf(text, "{{ end }}"));
    }

    [Fact]
    public void Deepseek_r1_and_chatml_templates_are_balanced_go_templates_with_their_stop_strings()
    {
        foreach (var family in new[] { ChatTemplateFamily.DeepSeekR1, ChatTemplateFamily.ChatMl, ChatTemplateFamily.Mistral, ChatTemplateFamily.Llama2 })
        {
            string template = OllamaModelfile.Template(family);
            Assert.Equal(CountOf(template, "{{ if") + CountOf(template, "{{ range"), CountOf(template, "{{ end }}"));
            Assert.NotEmpty(OllamaModelfile.StopStrings(family));
        }

        string r1 = OllamaModelfile.Create("./m.gguf", ChatTemplateFamily.DeepSeekR1);
        Assert.Contains("PARAMETER stop \"<\uff5cend\u2581of\u2581sentence\uff5c>\"", r1);
        Assert.DoesNotContain("SYSTEM", r1);
    }

    [Fact]
    public void Modelfile_is_written_beside_the_gguf_file()
    {
        using var dir = new TempDirectory();
        string path = OllamaModelfile.WriteBeside(dir.File("m.q8_0.gguf"), "<|im_start|>", "be brief", "m.q8_0.Modelfile");
        Assert.Equal(dir.File("m.q8_0.Modelfile"), path);
        string text = File.ReadAllText(path);
        Assert.StartsWith("FROM ./m.q8_0.gguf\n", text);
        Assert.Contains("<|im_start|>assistant", text);
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    private static int CountOf(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;
}
