using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;

namespace SharpTune.Data.Templates;

/// <summary>
/// An instruction-tuning template: a prompt and a completion, each text with <c>{field}</c> placeholders, and EOS
/// appended after the completion. The loss is on the completion (and EOS) only. Optional fields may be missing or
/// empty; when <see cref="WhenOptionalEmpty"/> is set it is used instead for rows whose optional fields are all empty
/// (Alpaca without an input).
/// </summary>
public sealed class InstructionTemplate : IPromptTemplate
{
    private readonly PlaceholderText _prompt;
    private readonly PlaceholderText _completion;
    private readonly HashSet<string> _optional;

    public InstructionTemplate(string name, string prompt, string completion, IEnumerable<string>? optionalFields = null, InstructionTemplate? whenOptionalEmpty = null)
    {
        Name = name;
        _prompt = new PlaceholderText(prompt);
        _completion = new PlaceholderText(completion);
        _optional = new HashSet<string>(optionalFields ?? [], StringComparer.Ordinal);
        WhenOptionalEmpty = whenOptionalEmpty;
    }

    /// <summary>
    /// The reference run's template (Chinese medical chain of thought): the question in <c>{instruction}</c>, the
    /// doctor's reasoning in <c>{input}</c> inside &lt;思考&gt; tags, the answer in <c>{output}</c>; the completion is
    /// everything after "### 回答:\n".
    /// </summary>
    public static InstructionTemplate MedicalChainOfThought { get; } = new(
        "medical-cot",
        "以下是描述任务的指令，以及提供更多上下文的输入。\n请写出恰当完成该请求的回答。\n在回答之前，请仔细思考问题，并创建一个逐步的思维链，以确保回答合乎逻辑且准确。\n\n" +
        "### 指令:\n你是一位在临床推理、诊断和治疗计划方面具有专业知识的医学专家。\n请回答以下医学问题。\n\n### 问题:\n{instruction}\n\n### 回答:\n",
        "<思考>\n{input}\n</思考>\n{output}");

    /// <summary>Stanford Alpaca's template, with its no-input variant for rows whose <c>input</c> is empty.</summary>
    public static InstructionTemplate Alpaca { get; } = new(
        "alpaca",
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
        "{output}",
        ["input"],
        new InstructionTemplate(
            "alpaca-no-input",
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n",
            "{output}"));

    public string Name { get; }

    public InstructionTemplate? WhenOptionalEmpty { get; }

    public string PromptText => _prompt.Text;

    public string CompletionText => _completion.Text;

    public string Fingerprint => $"instruction|{Name}|{_prompt.Text}|{_completion.Text}|{string.Join(",", _optional.Order())}|{WhenOptionalEmpty?.Fingerprint}";

    public RenderedPrompt Render(DataRecord record, FieldMapping mapping)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in _prompt.Placeholders.Concat(_completion.Placeholders).Distinct())
        {
            values[field] = mapping.GetText(record, field, optional: _optional.Contains(field));
        }

        if (WhenOptionalEmpty is not null && _optional.Count > 0 && _optional.All(f => !values.TryGetValue(f, out var v) || string.IsNullOrWhiteSpace(v)))
        {
            return WhenOptionalEmpty.Render(record, mapping);
        }

        return new RenderedPrompt(
            [new PromptSegment(_prompt.Fill(f => values[f]), false), new PromptSegment(_completion.Fill(f => values[f]), true)],
            AppendEos: true);
    }

    /// <summary>Renders only the prompt part, for asking a model (evaluation): the fields of the completion are not needed.</summary>
    public string RenderPrompt(Func<string, string> value) => _prompt.Fill(value);
}
