using SharpTune.Models;
using SharpTune.Models.Generation;
using SharpTune.Models.Tokenization;

namespace SharpTune.Evaluation;

/// <summary>Greedy answers of a model to prompts (one at a time, so no padding changes what a model says).</summary>
public static class AnswerGenerator
{
    public static IReadOnlyList<string> Answer(CausalLM model, HfTokenizer tokenizer, string modelDirectory, IReadOnlyList<string> prompts, int maxNewTokens, CancellationToken cancellationToken = default)
    {
        var generator = new TextGenerator(model, ids => tokenizer.Decode(ids), GenerationConfig.TryLoad(modelDirectory));
        var options = new GenerationOptions { MaxNewTokens = maxNewTokens, Temperature = 0 };
        var answers = new List<string>();
        foreach (string prompt in prompts)
        {
            var ids = tokenizer.Encode(prompt);
            var result = generator.Generate([ids], options, cancellationToken: cancellationToken);
            answers.Add(tokenizer.Decode(result.Tokens[0]).Trim());
        }

        return answers;
    }
}
