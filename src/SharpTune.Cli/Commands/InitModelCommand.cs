using System.CommandLine;
using SharpTune.Benchmarks;
using SharpTune.Cli.Rendering;
using SharpTune.Models;
using SharpTune.Runtime;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune init-model</c>: writes a tiny Hugging Face model directory with seeded random weights.</summary>
public static class InitModelCommand
{
    public static Command Create(CliContext context)
    {
        var arch = new Option<string>("--arch")
        {
            Description = "Architecture: llama (Llama 3 layout with llama3 rope scaling), mistral, qwen2 (q/k/v bias) or qwen3 (q/k norms).",
            Required = true,
        };
        arch.AcceptOnlyFromAmong("llama", "mistral", "qwen2", "qwen3");
        var size = new Option<string>("--size")
        {
            Description = "tiny: hidden 64, 2 layers (fast on a CPU); small: hidden 256, 4 layers (~20-50M parameters).",
            DefaultValueFactory = _ => "tiny",
        };
        size.AcceptOnlyFromAmong("tiny", "small");
        var shape = new Option<string?>("--shape")
        {
            Description = $"A full-size architecture instead of --size, with random weights ({string.Join(", ", BenchmarkModels.Names)}; " +
                "--arch must be its family): for GPU training runs and benchmarks of real shapes.",
        };
        shape.AcceptOnlyFromAmong([.. BenchmarkModels.Names]);
        var output = new Option<string>("--out") { Description = "The directory to write (created if missing).", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 0 };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "A Hugging Face tokenizer directory (tokenizer.json + tokenizer_config.json) to copy. Default: the " +
                $"llama3 (llama, mistral) or qwen3 (qwen2, qwen3) tokenizer from ${TokenizerLocator.EnvironmentVariable} or .tools/tokenizers.",
        };
        var tied = new Option<bool?>("--tie-word-embeddings") { Description = "Share the embedding with lm_head. Default: false for llama/mistral, true for qwen2/qwen3." };
        var dtype = new Option<string>("--dtype") { Description = "Element type of the saved weights: bf16, fp16 or fp32.", DefaultValueFactory = _ => "bf16" };
        dtype.AcceptOnlyFromAmong("bf16", "fp16", "fp32");

        var command = new Command("init-model", "Write a complete Hugging Face model directory (config.json, generation_config.json, model.safetensors, tokenizer) with seeded random weights, for tests and demos.")
        {
            arch, size, shape, output, seed, tokenizer, tied, dtype,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            var family = parsed.GetValue(arch) switch
            {
                "llama" => ModelFamily.Llama,
                "mistral" => ModelFamily.Mistral,
                "qwen2" => ModelFamily.Qwen2,
                _ => ModelFamily.Qwen3,
            };
            var options = new TinyModelOptions(
                family,
                parsed.GetValue(size) == "small" ? TinyModelSize.Small : TinyModelSize.Tiny,
                parsed.GetValue(seed),
                parsed.GetValue(tokenizer),
                parsed.GetValue(tied),
                CausalLM.ParseDType(parsed.GetValue(dtype)!),
                parsed.GetValue(shape) is { } name ? BenchmarkModels.Config(name) : null);
            if (options.Shape is { } full && full.Family != family)
            {
                throw new SharpTuneException($"init-model: --shape {parsed.GetValue(shape)} is a {full.Family} model; use --arch {full.Family.ToString().ToLowerInvariant()}");
            }

            string directory = parsed.GetValue(output)!;
            using var progress = new ConsoleProgress(context.Error);
            var config = TinyModelFactory.Create(directory, options, progress);
            long parameters = ParameterCount(config);
            context.Out.WriteLine($"wrote {config.Architecture} ({parameters / 1e6:F1}M parameters, vocab {config.VocabSize}, tied {config.TieWordEmbeddings.ToString().ToLowerInvariant()}) to {Path.GetFullPath(directory)}");
            return 0;
        });
        return command;
    }

    private static long ParameterCount(ModelConfig c)
    {
        long attention = (long)c.HiddenSize * c.HeadDim * (2 * c.NumAttentionHeads + 2 * c.NumKeyValueHeads);
        long mlp = 3L * c.HiddenSize * c.IntermediateSize;
        long embedding = (long)c.VocabSize * c.HiddenSize;
        return c.NumHiddenLayers * (attention + mlp + 2L * c.HiddenSize) + embedding * (c.TieWordEmbeddings ? 1 : 2) + c.HiddenSize;
    }
}
