using System.Diagnostics;
using static TorchSharp.torch;

namespace SharpTune.Models.Generation;

/// <summary>
/// Autoregressive generation for a batch of prompts (token ids), Hugging Face <c>generate</c> style: prompts are
/// left-padded into one batch with an attention mask, the prompt is run once (prefill) into a <see cref="KvCache"/>,
/// then one token per step. A finished sequence is fed padding until all are done. Sampling draws from a
/// seeded CPU generator, so results do not depend on the device.
/// </summary>
public sealed class TextGenerator
{
    private readonly CausalLM _model;
    private readonly Func<IReadOnlyList<int>, string>? _decode;
    private readonly GenerationConfig? _generationConfig;

    /// <param name="model">The model.</param>
    /// <param name="decode">Turns new token ids into text; needed for stop strings.</param>
    /// <param name="generationConfig">The model's generation_config.json (EOS and pad ids), if any.</param>
    public TextGenerator(CausalLM model, Func<IReadOnlyList<int>, string>? decode = null, GenerationConfig? generationConfig = null)
    {
        _model = model;
        _decode = decode;
        _generationConfig = generationConfig;
    }

    /// <summary>The EOS ids used when the options name none.</summary>
    public IReadOnlyList<int> DefaultEosTokenIds =>
        _generationConfig is { EosTokenIds.Count: > 0 } g ? g.EosTokenIds : _model.Config.EosTokenIds;

    public GenerationResult Generate(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (prompts.Count == 0)
        {
            throw new SharpTuneException("no prompts to generate from");
        }

        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Count == 0)
            {
                throw new SharpTuneException($"prompt {i + 1} has no tokens");
            }

            foreach (int id in prompts[i])
            {
                if (id < 0 || id >= _model.Config.VocabSize)
                {
                    throw new SharpTuneException($"prompt {i + 1} has token id {id}, outside the vocabulary of {_model.Config.VocabSize}");
                }
            }
        }

        if (options.StopStrings.Count > 0 && _decode is null)
        {
            throw new SharpTuneException("stop strings need a tokenizer to decode the generated text");
        }

        var eos = (options.EosTokenIds ?? DefaultEosTokenIds).ToHashSet();
        int pad = options.PadTokenId ?? _generationConfig?.PadTokenId ?? _model.Config.PadTokenId ?? (eos.Count > 0 ? eos.Min() : 0);
        int batch = prompts.Count;
        int promptLength = prompts.Max(p => p.Count);
        var device = _model.Device;

        var ids = new long[batch * promptLength];
        var mask = new long[batch * promptLength];
        for (int i = 0; i < batch; i++)
        {
            int offset = promptLength - prompts[i].Count;
            for (int j = 0; j < promptLength; j++)
            {
                ids[i * promptLength + j] = j < offset ? pad : prompts[i][j - offset];
                mask[i * promptLength + j] = j < offset ? 0 : 1;
            }
        }

        var tokens = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var reasons = Enumerable.Repeat(FinishReason.Length, batch).ToArray();
        var finished = new bool[batch];
        var prefill = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        var generator = new Generator((ulong)options.Seed);
        using var noGrad = no_grad();
        using var cache = options.UseCache ? new KvCache(_model.Config.NumHiddenLayers, promptLength + options.MaxNewTokens) : null;
        var sequences = tensor(ids, [batch, promptLength], ScalarType.Int64, device).DetachFromDisposeScope();
        var attention = tensor(mask, [batch, promptLength], ScalarType.Int64, device).DetachFromDisposeScope();
        try
        {
            for (int step = 0; step < options.MaxNewTokens && !finished.All(f => f); step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var input = cache is null || step == 0 ? sequences : sequences.narrow(1, sequences.shape[1] - 1, 1);
                var logits = _model.forward(input, attention, null, cache);
                var scores = logits.select(1, logits.shape[1] - 1).to(ScalarType.Float32);
                var next = NextTokens(scores, sequences, options, generator);
                long[] picked = next.cpu().data<long>().ToArray();
                for (int i = 0; i < batch; i++)
                {
                    if (finished[i])
                    {
                        picked[i] = pad;
                        continue;
                    }

                    int token = (int)picked[i];
                    tokens[i].Add(token);
                    onToken?.Invoke(new GeneratedToken(i, tokens[i].Count - 1, token));
                    if (eos.Contains(token))
                    {
                        (finished[i], reasons[i]) = (true, FinishReason.EndOfSequence);
                    }
                    else if (options.StopStrings.Count > 0 && _decode!(tokens[i]) is var text && options.StopStrings.Any(s => text.Contains(s, StringComparison.Ordinal)))
                    {
                        (finished[i], reasons[i]) = (true, FinishReason.StopString);
                    }
                }

                var column = tensor(picked, [batch, 1], ScalarType.Int64, device);
                var grown = cat([sequences, column], 1).DetachFromDisposeScope();
                var grownMask = cat([attention, ones_like(column)], 1).DetachFromDisposeScope();
                sequences.Dispose();
                attention.Dispose();
                (sequences, attention) = (grown, grownMask);
                if (step == 0)
                {
                    prefill = clock.Elapsed;
                }
            }
        }
        finally
        {
            sequences.Dispose();
            attention.Dispose();
        }

        return new GenerationResult(tokens, reasons, prompts.Sum(p => p.Count), prefill, clock.Elapsed - prefill);
    }

    private static Tensor NextTokens(Tensor scores, Tensor sequences, GenerationOptions options, Generator generator)
    {
        if (options.RepetitionPenalty != 1.0)
        {
            scores = LogitsProcessor.RepetitionPenalty(scores, sequences, options.RepetitionPenalty);
        }

        if (options.IsGreedy)
        {
            return scores.argmax(-1);
        }

        scores = LogitsProcessor.Temperature(scores, options.Temperature);
        if (options.TopK > 0)
        {
            scores = LogitsProcessor.TopK(scores, options.TopK);
        }

        if (options.TopP < 1.0)
        {
            scores = LogitsProcessor.TopP(scores, options.TopP);
        }

        var probabilities = scores.softmax(-1).cpu();
        return multinomial(probabilities, 1, false, generator).squeeze(1).to(scores.device);
    }
}
