using SharpTune.Data.Tokenized;
using SharpTune.Evaluation;
using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Tests.Evaluation;

public sealed class HeldOutLossEvaluatorTests
{
    [Fact]
    public void The_loss_is_the_mean_next_token_cross_entropy_over_completion_tokens()
    {
        _ = TorchFixture.Runtime;
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, vocabSize: 96, bosTokenId: 1, eosTokenIds: [2]);
        using var model = TinyModelFactory.CreateModel(config, seed: 7, ScalarType.Float32, CPU);
        var random = new Random(11);
        var samples = Enumerable.Range(0, 3).Select(i =>
        {
            int length = 6 + i * 3;
            var ids = Enumerable.Range(0, length).Select(_ => random.Next(3, 96)).ToArray();
            var mask = Enumerable.Range(0, length).Select(t => (byte)(t >= length / 2 ? 1 : 0)).ToArray();
            return new TokenizedSample(ids, mask);
        }).ToList();
        samples.Add(new TokenizedSample([5, 6, 7], [0, 0, 0]));   // no completion: not counted

        var result = HeldOutLossEvaluator.Evaluate(model, samples, cancellationToken: TestContext.Current.CancellationToken);

        // Reference: log-softmax in float64 from the model's logits, picked out token by token.
        double sum = 0;
        long count = 0;
        foreach (var sample in samples)
        {
            using var scope = NewDisposeScope();
            var logits = model.forward(tensor(sample.InputIds.Select(x => (long)x).ToArray()).unsqueeze(0), null)[0].to(ScalarType.Float64);
            var logProbabilities = nn.functional.log_softmax(logits, 1).data<double>().ToArray();
            for (int t = 0; t + 1 < sample.Length; t++)
            {
                if (sample.CompletionMask[t + 1] != 0)
                {
                    sum -= logProbabilities[t * 96 + sample.InputIds[t + 1]];
                    count++;
                }
            }
        }

        Assert.Equal(count, result.Tokens);
        Assert.Equal(3, result.Rows);
        Assert.Equal(sum / count, result.Loss, 1e-4);
        Assert.Equal(Math.Exp(sum / count), result.Perplexity, 1e-3);
        Assert.InRange(result.Loss, Math.Log(96) - 1, Math.Log(96) + 1);  // random weights: about uniform
    }
}
