namespace SharpTune.Gguf;

/// <summary>Chat prompt formats an Ollama Modelfile can express, recognised from a model's Jinja chat template.</summary>
public enum ChatTemplateFamily
{
    /// <summary>No recognised template: the prompt is passed as it is.</summary>
    Raw,
    Llama3,
    ChatMl,
    Mistral,
    Llama2,
    DeepSeekR1,
}
