using SharpTune.Models;
using SharpTune.Models.Generation;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

public sealed class GenerationTests
{
    private static readonly int[][] Prompts = [[1, 45, 200, 7], [1, 9, 9, 31, 77, 150, 3, 18, 222], [1, 60]];

    private static GenerationResult Run(TextGenerator generator, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, Action<GeneratedToken>? onToken = null) =>
        generator.Generate(prompts, options, onToken, TestContext.Current.CancellationToken);

    public static TheoryData<ModelFamily> Families => new(ModelFamily.Llama, ModelFamily.Mistral, ModelFamily.Qwen2, ModelFamily.Qwen3);

    [Theory]
    [MemberData(nameof(Families))]
    public void Greedy_generation_with_the_kv_cache_equals_recomputing_without_it(ModelFamily family)
    {
        _ = TorchFixture.Runtime;
        var config = TestModels.Config(family, tied: false, adjust: c => c with { SlidingWindow = family == ModelFamily.Mistral ? 6 : null });
        using var model = TestModels.Create(config);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 24, EosTokenIds = [] };
        var cached = Run(generator, Prompts, options);
        var recomputed = Run(generator, Prompts, options with { UseCache = false });
        Assert.Equal(cached.Tokens, recomputed.Tokens);
        Assert.All(cached.Tokens, t => Assert.Equal(24, t.Count));
        Assert.True(cached.Tokens[0].Distinct().Count() > 1, "a random model should not repeat one token forever");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void A_left_padded_batch_gives_what_each_prompt_gives_alone(ModelFamily family)
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(family, tied: false));
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [] };
        var batch = Run(generator, Prompts, options);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(Run(generator, [Prompts[i]], options).Tokens[0], batch.Tokens[i]);
        }

        // The padded forward pass itself: real positions match the unpadded pass.
        using var scope = NewDisposeScope();
        var padded = tensor(new long[] { 0, 0, 0, 0, 0, 1, 45, 200, 7 }, [1, 9]);
        var mask = tensor(new long[] { 0, 0, 0, 0, 0, 1, 1, 1, 1 }, [1, 9]);
        var alone = model.forward(tensor(new long[] { 1, 45, 200, 7 }, [1, 4]));
        var withPadding = model.forward(padded, mask).narrow(1, 5, 4);
        Assert.True(withPadding.isfinite().all().item<bool>());
        float relative = (withPadding - alone).abs().max().item<float>() / alone.abs().max().item<float>();
        Assert.True(relative < 1e-5f, $"relative difference {relative:E2}");
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_top_k_1_is_greedy()
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
        var generator = new TextGenerator(model);
        var sampling = new GenerationOptions { MaxNewTokens = 16, EosTokenIds = [], Temperature = 1.5, TopK = 0, Seed = 7 };
        var first = Run(generator, Prompts, sampling);
        Assert.Equal(first.Tokens, Run(generator, Prompts, sampling).Tokens);
        Assert.NotEqual(first.Tokens, Run(generator, Prompts, sampling with { Seed = 8 }).Tokens);
        var greedy = Run(generator, Prompts, new GenerationOptions { MaxNewTokens = 16, EosTokenIds = [] });
        Assert.NotEqual(greedy.Tokens, first.Tokens);
        Assert.Equal(greedy.Tokens, Run(generator, Prompts, sampling with { TopK = 1 }).Tokens);
        Assert.Equal(greedy.Tokens, Run(generator, Prompts, sampling with { TopP = 1e-6 }).Tokens);
    }

    [Fact]
    public void Generation_stops_at_eos_ids_and_stop_strings_and_streams_every_token()
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Qwen3));
        var generator = new TextGenerator(model, ids => string.Join(" ", ids.Select(id => $"<{id}>")));
        var free = Run(generator, [Prompts[1]], new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [] });
        Assert.Equal(FinishReason.Length, free.FinishReasons[0]);
        int stopToken = free.Tokens[0][4];
        int firstIndex = free.Tokens[0].ToList().IndexOf(stopToken);

        var streamed = new List<GeneratedToken>();
        var byEos = Run(generator, [Prompts[1]], new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [stopToken] }, streamed.Add);
        Assert.Equal(free.Tokens[0].Take(firstIndex + 1), byEos.Tokens[0]);
        Assert.Equal(FinishReason.EndOfSequence, byEos.FinishReasons[0]);
        Assert.Equal(byEos.Tokens[0], streamed.Select(t => t.TokenId));
        Assert.Equal(Enumerable.Range(0, byEos.Tokens[0].Count), streamed.Select(t => t.Index));

        var byString = Run(generator, [Prompts[1]], new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [], StopStrings = [$"<{stopToken}>"] });
        Assert.Equal(free.Tokens[0].Take(firstIndex + 1), byString.Tokens[0]);
        Assert.Equal(FinishReason.StopString, byString.FinishReasons[0]);
        Assert.True(byString.TokensPerSecond > 0);
        Assert.Equal(Prompts[1].Length, byString.PromptTokens);
    }

    [Fact]
    public void In_a_batch_a_finished_sequence_stops_while_the_others_go_on()
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
        var generator = new TextGenerator(model);
        var free = Run(generator, Prompts, new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [] });
        int eos = free.Tokens[0][0];
        var stopped = Run(generator, Prompts, new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [eos] });
        Assert.Equal([eos], stopped.Tokens[0]);
        for (int i = 1; i < Prompts.Length; i++)
        {
            int cut = free.Tokens[i].ToList().IndexOf(eos);
            Assert.Equal(cut < 0 ? free.Tokens[i] : free.Tokens[i].Take(cut + 1), stopped.Tokens[i]);
        }
    }

    [Fact]
    public void Generating_and_running_forward_passes_leave_no_live_tensors_behind()
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Qwen3, tied: false));
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [], Temperature = 0.7, RepetitionPenalty = 1.2, TopP = 0.9 };
        Run(generator, Prompts, options);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            Run(generator, Prompts, options with { Seed = i });
            Run(generator, Prompts, options with { UseCache = false, MaxNewTokens = 2 });
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.forward(tensor(new long[] { 1, 2, 3, 4, 5, 6 }, [2, 3]), tensor(new long[] { 0, 1, 1, 1, 1, 1 }, [2, 3]));
        }

        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Logits_processors_follow_the_transformers_definitions()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var scores = tensor(new float[] { 2, -1, 0.5f, 3 }, [1, 4]);
        var penalized = LogitsProcessor.RepetitionPenalty(scores, tensor(new long[] { 0, 1, 1 }, [1, 3]), 2.0);
        Assert.Equal([1f, -2f, 0.5f, 3f], penalized.data<float>().ToArray());

        var topK = LogitsProcessor.TopK(tensor(new float[] { 1, 3, 2, 3 }, [1, 4]), 2);
        Assert.Equal([float.NegativeInfinity, 3f, float.NegativeInfinity, 3f], topK.data<float>().ToArray());

        var logProbabilities = tensor(new float[] { 0.1f, 0.2f, 0.3f, 0.4f }, [1, 4]).log();
        var topP = LogitsProcessor.TopP(logProbabilities, 0.5);
        Assert.Equal([true, true, false, false], topP.isinf().data<bool>().ToArray());
        var keepOne = LogitsProcessor.TopP(logProbabilities, 1e-9);
        Assert.Equal([true, true, true, false], keepOne.isinf().data<bool>().ToArray());

        Assert.Equal([1f, -0.5f, 0.25f, 1.5f], LogitsProcessor.Temperature(scores, 2.0).data<float>().ToArray());
    }

    [Fact]
    public void Bad_settings_and_prompts_are_refused_clearly()
    {
        _ = TorchFixture.Runtime;
        using var model = TestModels.Create(TestModels.Config(ModelFamily.Llama));
        var generator = new TextGenerator(model);
        Assert.Contains("temperature", Assert.Throws<SharpTuneException>(() => Run(generator, Prompts, new GenerationOptions { Temperature = -1 })).Message);
        Assert.Contains("top-p", Assert.Throws<SharpTuneException>(() => Run(generator, Prompts, new GenerationOptions { TopP = 0 })).Message);
        Assert.Contains("prompt 2 has no tokens", Assert.Throws<SharpTuneException>(() => Run(generator, [[1], []], new GenerationOptions())).Message);
        Assert.Contains("token id 999", Assert.Throws<SharpTuneException>(() => Run(generator, [[1, 999]], new GenerationOptions())).Message);
        Assert.Contains("stop strings need a tokenizer", Assert.Throws<SharpTuneException>(() => Run(generator, [[1]], new GenerationOptions { StopStrings = ["x"] })).Message);
    }
}
