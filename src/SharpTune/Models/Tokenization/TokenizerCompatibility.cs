namespace SharpTune.Models.Tokenization;

/// <summary>Whose behaviour <see cref="HfTokenizer"/> reproduces where Hugging Face's two libraries differ.</summary>
public enum TokenizerCompatibility
{
    /// <summary>
    /// transformers' <c>AutoTokenizer</c> (the default; what training stacks use). For Llama-class SentencePiece
    /// tokenizers (<c>tokenizer_class</c> LlamaTokenizer/CodeLlamaTokenizer) transformers 5 ignores tokenizer.json's
    /// legacy <c>Prepend("▁")</c> normalizer and prepends '▁' to a stretch of text only when it does not already start
    /// with one (so " a" is "▁a", not "▁▁a", also after special tokens).
    /// </summary>
    Transformers,

    /// <summary>The <c>tokenizers</c> library on tokenizer.json exactly as written (<c>Tokenizer.from_file</c>).</summary>
    TokenizersLibrary,
}
