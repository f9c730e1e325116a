using SharpTune.Models.Generation;
using SharpTune.Models.Tokenization;
using SharpTune.Progress;
using static TorchSharp.torch;

namespace SharpTune.Models;

/// <summary>What <see cref="PretrainedModel.GenerateText"/> returns: the new text of each prompt plus the token-level result.</summary>
public sealed record TextGenerationResult(IReadOnlyList<string> Texts, GenerationResult Tokens);

/// <summary>
/// A Hugging Face model directory loaded for use: the model, its tokenizer (when the directory has
/// tokenizer.json) and its generation_config.json; generates text from text prompts.
/// </summary>
public sealed class PretrainedModel : IDisposable
{
    private PretrainedModel(string directory, CausalLM model, HfTokenizer? tokenizer, GenerationConfig? generationConfig)
    {
        Directory = directory;
        Model = model;
        Tokenizer = tokenizer;
        GenerationConfig = generationConfig;
    }

    public string Directory { get; }

    public CausalLM Model { get; }

    public HfTokenizer? Tokenizer { get; }

    public GenerationConfig? GenerationConfig { get; }

    public static PretrainedModel Load(string directory, ScalarType dtype, Device device, IProgress<OperationProgress>? progress = null)
    {
        var model = CausalLM.Load(directory, dtype, device, progress);
        try
        {
            var tokenizer = File.Exists(Path.Combine(directory, "tokenizer.json")) ? HfTokenizer.Load(directory) : null;
            return new PretrainedModel(directory, model, tokenizer, GenerationConfig.TryLoad(directory));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The options HF <c>generate</c> would use by default for this model: greedy, unless generation_config.json
    /// asks for sampling (then its temperature, top-k, top-p and repetition penalty).
    /// </summary>
    public GenerationOptions DefaultOptions()
    {
        var options = new GenerationOptions();
        if (GenerationConfig is { } g)
        {
            options = options with
            {
                MaxNewTokens = g.MaxNewTokens ?? options.MaxNewTokens,
                RepetitionPenalty = g.RepetitionPenalty ?? options.RepetitionPenalty,
            };
            if (g.DoSample)
            {
                options = options with { Temperature = g.Temperature ?? 1.0, TopK = g.TopK ?? options.TopK, TopP = g.TopP ?? options.TopP };
            }
        }

        return options;
    }

    public TextGenerator Generator() =>
        new(Model, Tokenizer is { } t ? ids => t.Decode(ids, skipSpecialTokens: true) : null, GenerationConfig);

    /// <summary>
    /// Encodes each prompt (with the tokenizer's BOS rules unless <paramref name="addSpecialTokens"/> is false),
    /// generates, and decodes the new tokens. <paramref name="onText"/> receives (prompt index, new text) as it comes.
    /// </summary>
    public TextGenerationResult GenerateText(IReadOnlyList<string> prompts, GenerationOptions options, Action<int, string>? onText = null, bool addSpecialTokens = true, CancellationToken cancellationToken = default)
    {
        var tokenizer = Tokenizer ?? throw new SharpTuneException($"{Directory}: no tokenizer.json, so text prompts cannot be encoded (give token ids instead)");
        var encoded = prompts.Select(p => tokenizer.Encode(p, addSpecialTokens)).ToList();
        var streams = prompts.Select(_ => new TextStreamDecoder(ids => tokenizer.Decode(ids, skipSpecialTokens: true))).ToArray();
        var result = Generator().Generate(encoded, options, token =>
        {
            string delta = streams[token.Sequence].Add(token.TokenId);
            if (delta.Length > 0)
            {
                onText?.Invoke(token.Sequence, delta);
            }
        }, cancellationToken);
        for (int i = 0; i < streams.Length; i++)
        {
            if (streams[i].Flush() is { Length: > 0 } rest)
            {
                onText?.Invoke(i, rest);
            }
        }

        return new TextGenerationResult(result.Tokens.Select(t => tokenizer.Decode(t, skipSpecialTokens: true)).ToList(), result);
    }

    public void Dispose() => Model.Dispose();
}
