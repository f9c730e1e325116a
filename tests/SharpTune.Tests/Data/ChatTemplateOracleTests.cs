using System.Text;
using System.Text.Json;
using SharpTune.Data.Templates;

namespace SharpTune.Tests.Data;

/// <summary>
/// The C# chat renderers against Hugging Face apply_chat_template (tests/fixtures/chat/expected_&lt;name&gt;.json,
/// written by tests/oracles/chat_templates.py with transformers) and against plain jinja2 configured as transformers
/// configures it (expected_jinja2_&lt;name&gt;.json, the same script with --jinja2), for every conversation in
/// tests/fixtures/chat/messages.json, with and without the generation prompt.
/// </summary>
public sealed class ChatTemplateOracleTests
{
    public static TheoryData<string, string> Fixtures()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in new[] { "llama3", "chatml", "qwen3", "mistral", "deepseek-r1" })
        {
            data.Add(name, "expected_");
            data.Add(name, "expected_jinja2_");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Rendered_text_equals_the_reference_renderer(string name, string prefix)
    {
        string path = RepositoryPaths.Fixture("chat", $"{prefix}{name}.json");
        Assert.SkipUnless(File.Exists(path), $"{path} is missing: run tests/oracles/chat_templates.py on a host with transformers and commit its output");
        var conversations = ReadConversations();
        using var expected = JsonDocument.Parse(File.ReadAllText(path));
        var template = PromptTemplateCatalog.GetChat(name);
        var failures = new StringBuilder();
        int compared = 0;
        foreach (var (key, messages) in conversations)
        {
            var entry = expected.RootElement.GetProperty(key);
            if (entry.GetProperty("error").ValueKind == JsonValueKind.String)
            {
                if (!Throws(() => template.Format(messages, false)))
                {
                    failures.AppendLine($"{key}: the reference template raised ({entry.GetProperty("error").GetString()}) but the renderer did not");
                }

                continue;
            }

            foreach (var (property, generation) in new[] { ("plain", false), ("generation", true) })
            {
                string want = entry.GetProperty(property).GetString()!;
                string got = template.Format(messages, generation);
                compared++;
                if (want != got)
                {
                    failures.AppendLine($"{key} {property}:\n  expected {JsonSerializer.Serialize(want)}\n  got      {JsonSerializer.Serialize(got)}");
                }
            }
        }

        Assert.True(compared >= 10);
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void Completion_segments_are_exactly_the_assistant_turns_with_their_end_marker()
    {
        var messages = new[] { new ChatMessage("user", "Q1"), new ChatMessage("assistant", "A1"), new ChatMessage("user", "Q2"), new ChatMessage("assistant", "A2") };
        string Completions(IChatTemplate t) => string.Join("|", t.Render(messages, false).Where(s => s.IsCompletion).Select(s => s.Text));
        Assert.Equal("A1<|eot_id|>|A2<|eot_id|>", Completions(new Llama3ChatTemplate()));
        Assert.Equal("A1<|im_end|>\n|A2<|im_end|>\n", Completions(new ChatMlTemplate()));
        Assert.Equal("A1<|im_end|>\n|<think>\n\n</think>\n\nA2<|im_end|>\n", Completions(new Qwen3ChatTemplate()));
        Assert.Equal("A1</s>|A2</s>", Completions(new MistralChatTemplate()));
        Assert.Equal("A1<｜end▁of▁sentence｜>|A2<｜end▁of▁sentence｜>", Completions(new DeepSeekR1ChatTemplate()));
    }

    private static bool Throws(Action action)
    {
        try
        {
            action();
            return false;
        }
        catch (SharpTuneException)
        {
            return true;
        }
    }

    private static List<(string Key, List<ChatMessage> Messages)> ReadConversations()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Fixture("chat", "messages.json")));
        return json.RootElement.EnumerateObject()
            .Select(p => (p.Name, p.Value.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList()))
            .ToList();
    }
}
