using SharpTune.Data.Tokenized;
using SharpTune.Models;
using SharpTune.Progress;
using static TorchSharp.torch;

namespace SharpTune.Evaluation;

/// <summary>
/// Held-out loss of a causal LM on tokenized samples: next-token cross-entropy (in float32) summed over the
/// completion tokens of every sample, divided by their count, as the trainer's loss is defined.
/// </summary>
public static class HeldOutLossEvaluator
{
    public static HeldOutLoss Evaluate(CausalLM model, IReadOnlyList<TokenizedSample> samples, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        double lossSum = 0;
        long tokens = 0;
        int rows = 0;
        using var noGrad = no_grad();
        model.eval();
        for (int i = 0; i < samples.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var sample = samples[i];
            if (sample.Length < 2)
            {
                continue;
            }

            // Position t predicts token t+1; a target counts when it is a completion token.
            long[] targets = new long[sample.Length - 1];
            int counted = 0;
            for (int t = 0; t < targets.Length; t++)
            {
                bool completion = sample.CompletionMask[t + 1] != 0;
                targets[t] = completion ? sample.InputIds[t + 1] : -100;
                counted += completion ? 1 : 0;
            }

            if (counted == 0)
            {
                continue;
            }

            var ids = tensor(sample.InputIds.Select(x => (long)x).ToArray(), ScalarType.Int64, model.Device).unsqueeze(0);
            var logits = model.forward(ids, null)[0, ..^1].to(ScalarType.Float32);
            var loss = nn.functional.cross_entropy(logits, tensor(targets, ScalarType.Int64, model.Device), ignore_index: -100, reduction: nn.Reduction.Sum);
            lossSum += loss.item<float>();
            tokens += counted;
            rows++;
            progress?.Report(new OperationProgress("held-out loss", i + 1, samples.Count, "row"));
        }

        return HeldOutLoss.FromSum(lossSum, tokens, rows);
    }
}
