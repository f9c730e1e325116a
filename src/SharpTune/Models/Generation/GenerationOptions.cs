namespace SharpTune.Models.Generation;

/// <summary>
/// How <see cref="TextGenerator"/> picks tokens, with Hugging Face <c>generate</c> semantics: temperature 0 is
/// greedy (HF <c>do_sample=False</c>); otherwise sampling after, in HF's order, the repetition penalty,
/// temperature, top-k and top-p.
/// </summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>0 = greedy; above 0 = sample from softmax(logits / temperature).</summary>
    public double Temperature { get; init; }

    /// <summary>Keep the k most likely tokens when sampling (0 = off). Default 50, as HF's GenerationConfig.</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Keep the smallest set of tokens whose probability reaches p when sampling (1 = off).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Divide positive (multiply negative) logits of tokens already in the sequence, prompt included (1 = off). Applies to greedy too.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of the sampler; the same seed, prompts and model give the same tokens.</summary>
    public long Seed { get; init; }

    /// <summary>Token ids that end a sequence (default: the model's generation_config/config EOS ids).</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>Texts that end a sequence once the decoded new text contains one (needs a decoder).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Id used for left padding and after a sequence ends (default: config pad id, else the first EOS id, else 0).</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Reuse keys/values of earlier tokens (true) or run the whole sequence every step (false; slow, for checks).</summary>
    public bool UseCache { get; init; } = true;

    public bool IsGreedy => Temperature <= 0;

    /// <summary>Throws <see cref="SharpTuneException"/> for settings HF would reject.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0)
        {
            throw new SharpTuneException($"max new tokens must be 0 or more, got {MaxNewTokens}");
        }

        if (Temperature < 0 || double.IsNaN(Temperature))
        {
            throw new SharpTuneException($"temperature must be 0 (greedy) or positive, got {Temperature}");
        }

        if (TopK < 0)
        {
            throw new SharpTuneException($"top-k must be 0 (off) or positive, got {TopK}");
        }

        if (TopP is <= 0 or > 1)
        {
            throw new SharpTuneException($"top-p must be in (0, 1], got {TopP}");
        }

        if (RepetitionPenalty <= 0)
        {
            throw new SharpTuneException($"repetition penalty must be positive, got {RepetitionPenalty}");
        }
    }
}
