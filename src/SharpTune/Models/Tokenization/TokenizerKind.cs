namespace SharpTune.Models.Tokenization;

/// <summary>The two BPE flavours of Hugging Face <c>tokenizer.json</c> files that SharpTune reads.</summary>
public enum TokenizerKind
{
    /// <summary>GPT-2 style byte-level BPE (Llama 3, Qwen2/3, DeepSeek-R1-Distill): regex pre-split, bytes mapped to printable characters.</summary>
    ByteLevelBpe,

    /// <summary>SentencePiece-style BPE (Llama 2, Mistral): spaces become '▁', unknown characters fall back to &lt;0xXX&gt; byte tokens.</summary>
    SentencePieceBpe,
}
