namespace SharpTune.Pipeline.Config;

/// <summary>"Did you mean ...?" for a misspelt key or value: the closest known word by edit distance.</summary>
public static class KeySuggestion
{
    /// <summary>The closest candidate within a distance that still looks like a typo, or null.</summary>
    public static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        var list = candidates.ToList();
        string bare = Bare(word);
        if (list.FirstOrDefault(c => Bare(c) == bare) is { } sameLetters)
        {
            return sameLetters;
        }

        foreach (string candidate in list)
        {
            int distance = Distance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        int allowed = Math.Max(2, word.Length / 3);
        return best is not null && bestDistance <= allowed ? best : null;
    }

    /// <summary>The word without separators and case: q4km and Q4_K_M are the same.</summary>
    private static string Bare(string word) => new(word.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());

    /// <summary>Names other tools use for our keys (Hugging Face TrainingArguments, PEFT's LoraConfig).</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lr"] = "learning_rate",
        ["max_steps"] = "steps",
        ["per_device_train_batch_size"] = "batch_size",
        ["batch"] = "batch_size",
        ["gradient_accumulation_steps"] = "gradient_accumulation",
        ["grad_accum"] = "gradient_accumulation",
        ["lr_scheduler_type"] = "scheduler",
        ["optim"] = "optimizer",
        ["rank"] = "r",
        ["lora_r"] = "r",
        ["lora_alpha"] = "alpha",
        ["lora_dropout"] = "dropout",
        ["target_modules"] = "targets",
        ["max_seq_len"] = "max_seq_length",
        ["model_id"] = "id",
        ["repo"] = "hub_repo",
        ["path"] = "file",
    };

    /// <summary>The key another tool's name stands for, when it is one of <paramref name="known"/>.</summary>
    public static string? Alias(string word, IEnumerable<string> known) =>
        Aliases.TryGetValue(word, out var ours) && known.Contains(ours) ? ours : null;

    /// <summary>Levenshtein distance (insert, delete, substitute; each costs 1).</summary>
    public static int Distance(string a, string b)
    {
        Span<int> previous = b.Length < 256 ? stackalloc int[b.Length + 1] : new int[b.Length + 1];
        Span<int> current = b.Length < 256 ? stackalloc int[b.Length + 1] : new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }

            current.CopyTo(previous);
        }

        return previous[b.Length];
    }
}
