namespace SharpTune.Models;

/// <summary>
/// The decoder variants the engine runs. They share one Llama-style decoder and differ only in small switches
/// (biases, q/k norms, sliding window); DeepSeek-R1-Distill-Llama is <see cref="Llama"/>.
/// </summary>
public enum ModelFamily
{
    /// <summary>Llama 2/3/3.1/3.2 and models built on them (<c>model_type</c> "llama").</summary>
    Llama,

    /// <summary>Mistral (<c>model_type</c> "mistral"): Llama with an optional sliding attention window.</summary>
    Mistral,

    /// <summary>Qwen2 and Qwen2.5 (<c>model_type</c> "qwen2"): biases on the q, k and v projections.</summary>
    Qwen2,

    /// <summary>Qwen3 (<c>model_type</c> "qwen3"): RMSNorm on each head of q and k, head_dim from the config.</summary>
    Qwen3,
}
