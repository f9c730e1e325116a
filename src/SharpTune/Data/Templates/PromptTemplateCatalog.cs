using SharpTune.Models.Tokenization;

namespace SharpTune.Data.Templates;

/// <summary>
/// The templates by name: <c>medical-cot</c> (the reference run), <c>alpaca</c>, and the chat formats <c>llama3</c>,
/// <c>chatml</c>, <c>qwen3</c>, <c>mistral</c>, <c>deepseek-r1</c>; custom instruction templates come from
/// <see cref="Custom"/>. Chat templates take BOS/EOS strings from the tokenizer where it names them.
/// </summary>
public static class PromptTemplateCatalog
{
    public static IReadOnlyList<string> Names { get; } = ["medical-cot", "alpaca", "llama3", "chatml", "qwen3", "mistral", "deepseek-r1"];

    public static IPromptTemplate Get(string name, HfTokenizer? tokenizer = null) => name switch
    {
        "medical-cot" => InstructionTemplate.MedicalChainOfThought,
        "alpaca" => InstructionTemplate.Alpaca,
        _ => new ChatPromptTemplate(GetChat(name, tokenizer)),
    };

    public static IChatTemplate GetChat(string name, HfTokenizer? tokenizer = null) => name switch
    {
        "llama3" => new Llama3ChatTemplate(tokenizer?.BosToken ?? "<|begin_of_text|>"),
        "chatml" => new ChatMlTemplate(),
        "qwen3" => new Qwen3ChatTemplate(),
        "mistral" => new MistralChatTemplate(tokenizer?.BosToken ?? "<s>", tokenizer?.EosToken ?? "</s>"),
        "deepseek-r1" => new DeepSeekR1ChatTemplate(tokenizer?.BosToken ?? "<｜begin▁of▁sentence｜>"),
        _ => throw new SharpTuneException($"unknown template '{name}' (known: {string.Join(", ", Names)}, or a custom prompt/completion)"),
    };

    /// <summary>A custom instruction template from pipeline YAML: prompt and completion text with <c>{field}</c> placeholders.</summary>
    public static InstructionTemplate Custom(string prompt, string completion, IEnumerable<string>? optionalFields = null) =>
        new("custom", prompt, completion, optionalFields);
}
