using System.Text.Json.Nodes;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;

namespace SharpTune.Tests.Data;

public sealed class PromptTemplateTests
{
    private static DataRecord Row(string json) => new("test.jsonl", 7, JsonNode.Parse(json)!.AsObject());

    [Fact]
    public void Medical_template_is_the_reference_runs_text_with_the_answer_as_completion()
    {
        var rendered = InstructionTemplate.MedicalChainOfThought.Render(Row("{\"instruction\":\"问\",\"input\":\"想\",\"output\":\"答\"}"), FieldMapping.Identity);
        // The reference run's prompt, as given in the project brief.
        string expected = "以下是描述任务的指令，以及提供更多上下文的输入。\n请写出恰当完成该请求的回答。\n在回答之前，请仔细思考问题，并创建一个逐步的思维链，以确保回答合乎逻辑且准确。\n\n### 指令:\n你是一位在临床推理、诊断和治疗计划方面具有专业知识的医学专家。\n请回答以下医学问题。\n\n### 问题:\n问\n\n### 回答:\n<思考>\n想\n</思考>\n答";
        Assert.Equal(expected, rendered.Text);
        Assert.Equal("<思考>\n想\n</思考>\n答", Assert.Single(rendered.Segments, s => s.IsCompletion).Text);
        Assert.EndsWith("### 回答:\n", rendered.PromptText);
        Assert.True(rendered.AppendEos);
    }

    [Fact]
    public void Alpaca_uses_its_no_input_variant_when_input_is_empty_or_missing()
    {
        var with = InstructionTemplate.Alpaca.Render(Row("{\"instruction\":\"Add\",\"input\":\"1 2\",\"output\":\"3\"}"), FieldMapping.Identity);
        Assert.Equal("Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd\n\n### Input:\n1 2\n\n### Response:\n3", with.Text);
        var without = InstructionTemplate.Alpaca.Render(Row("{\"instruction\":\"Say hi\",\"output\":\"hi\"}"), FieldMapping.Identity);
        Assert.Equal("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi\n\n### Response:\nhi", without.Text);
    }

    [Fact]
    public void Custom_templates_fill_mapped_nested_fields_and_keep_literal_braces()
    {
        var template = PromptTemplateCatalog.Custom("Q: {question} {{json}}\nA: ", "{answer}");
        var mapping = new FieldMapping(new Dictionary<string, string> { ["question"] = "q.text", ["answer"] = "a.0" });
        var rendered = template.Render(Row("{\"q\":{\"text\":\"why\"},\"a\":[\"because\"]}"), mapping);
        Assert.Equal("Q: why {json}\nA: because", rendered.Text);
        Assert.Equal("test.jsonl: row 7: field 'a.0': missing", Assert.Throws<BadRowException>(() => template.Render(Row("{\"q\":{\"text\":\"why\"},\"a\":[]}"), mapping)).Message);
        Assert.Contains("not closed", Assert.Throws<SharpTuneException>(() => PromptTemplateCatalog.Custom("Q: {question", "{a}")).Message);
    }

    [Fact]
    public void Chat_prompt_template_renders_a_rows_messages_for_training()
    {
        var template = PromptTemplateCatalog.Get("chatml");
        var rendered = template.Render(Row("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}"), FieldMapping.Identity);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n", rendered.Text);
        Assert.False(rendered.AppendEos);
        var error = Assert.Throws<BadRowException>(() => PromptTemplateCatalog.Get("mistral").Render(Row("{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"assistant\",\"content\":\"a\"}]}"), FieldMapping.Identity));
        Assert.StartsWith("test.jsonl: row 7: field 'messages': chat template mistral", error.Message);
    }
}
