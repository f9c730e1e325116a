using System.CommandLine;
using System.Globalization;
using SharpTune.Cli.Rendering;
using SharpTune.Data.Templates;
using SharpTune.Models;
using SharpTune.Models.Generation;
using SharpTune.Runtime;
using static TorchSharp.torch;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune generate</c>: loads a Hugging Face model directory and generates text, streaming it.</summary>
public static class GenerateCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "A Hugging Face model directory (config.json, safetensors, tokenizer.json).", Required = true };
        var prompt = new Option<string[]>("--prompt") { Description = "A prompt; repeat for a batch (left-padded, generated together).", AllowMultipleArgumentsPerToken = false };
        var ids = new Option<string[]>("--ids") { Description = "A prompt as comma-separated token ids instead of text (no tokenizer needed); repeatable." };
        var chat = new Option<string?>("--chat") { Description = $"Wrap each prompt as a user turn in a chat template: {string.Join(", ", PromptTemplateCatalog.Names.Skip(2))}." };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most new tokens per prompt.", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double?>("--temperature") { Description = "0 = greedy; above 0 = sample. Default: greedy, unless the model's generation_config.json asks for sampling." };
        var topK = new Option<int?>("--top-k") { Description = "Sample only from the k most likely tokens (0 = off; default 50, as transformers)." };
        var topP = new Option<double?>("--top-p") { Description = "Sample only from the most likely tokens whose probability adds up to p (1 = off)." };
        var repetitionPenalty = new Option<double?>("--repetition-penalty") { Description = "Penalize tokens already in the text (1 = off; HF semantics, also for greedy)." };
        var seed = new Option<long>("--seed") { Description = "Seed of the sampler.", DefaultValueFactory = _ => 0 };
        var stop = new Option<string[]>("--stop") { Description = "Stop a sequence when its text contains this string; repeatable." };
        var device = new Option<string>("--device") { Description = "auto (cuda when available), cpu or cuda.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        var dtype = new Option<string>("--dtype") { Description = "auto (bf16 on cuda, fp32 on cpu), bf16, fp16 or fp32.", DefaultValueFactory = _ => "auto" };
        dtype.AcceptOnlyFromAmong("auto", "bf16", "fp16", "fp32");

        var command = new Command("generate", "Generate text with a Hugging Face model directory (Llama, Mistral, Qwen2, Qwen3), streaming it and reporting tokens/s.")
        {
            model, prompt, ids, chat, maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, stop, device, dtype,
        };
        command.SetAction((parsed, cancellationToken) =>
        {
            var runtime = TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            string deviceName = parsed.GetValue(device)!;
            if (deviceName == "cuda" && !runtime.CudaAvailable)
            {
                throw new SharpTuneException($"--device cuda requested but libtorch from {runtime.LibTorch.Describe()} sees no GPU");
            }

            var target = deviceName == "cuda" || (deviceName == "auto" && runtime.CudaAvailable) ? CUDA : CPU;
            string dtypeName = parsed.GetValue(dtype)!;
            var scalarType = dtypeName == "auto" ? (target.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32) : CausalLM.ParseDType(dtypeName);
            string[] textPrompts = parsed.GetValue(prompt) ?? [];
            string[] idPrompts = parsed.GetValue(ids) ?? [];
            if (textPrompts.Length + idPrompts.Length == 0)
            {
                throw new SharpTuneException("give at least one --prompt TEXT or --ids 1,2,3");
            }

            if (textPrompts.Length > 0 && idPrompts.Length > 0)
            {
                throw new SharpTuneException("give prompts either as --prompt text or as --ids, not both");
            }

            using (var progress = new ConsoleProgress(context.Error))
            using (var pretrained = PretrainedModel.Load(parsed.GetValue(model)!, scalarType, target, progress))
            {
                var defaults = pretrained.DefaultOptions();
                var options = defaults with
                {
                    MaxNewTokens = parsed.GetValue(maxNewTokens),
                    Temperature = parsed.GetValue(temperature) ?? defaults.Temperature,
                    TopK = parsed.GetValue(topK) ?? defaults.TopK,
                    TopP = parsed.GetValue(topP) ?? defaults.TopP,
                    RepetitionPenalty = parsed.GetValue(repetitionPenalty) ?? defaults.RepetitionPenalty,
                    Seed = parsed.GetValue(seed),
                    StopStrings = parsed.GetValue(stop) ?? [],
                };
                context.Error.WriteLine($"{pretrained.Model.Config.Architecture} on {target.type.ToString().ToLowerInvariant()} in {CausalLM.DTypeName(scalarType)}; " +
                    (options.IsGreedy ? "greedy" : $"sampling (temperature {options.Temperature}, top-k {options.TopK}, top-p {options.TopP}, seed {options.Seed})"));

                GenerationResult result;
                if (idPrompts.Length > 0)
                {
                    var promptIds = idPrompts.Select(ParseIds).ToList();
                    result = pretrained.Generator().Generate(promptIds, options, null, cancellationToken);
                    for (int i = 0; i < result.Tokens.Count; i++)
                    {
                        context.Out.WriteLine(string.Join(",", result.Tokens[i]));
                    }
                }
                else
                {
                    string? template = parsed.GetValue(chat);
                    var texts = template is null
                        ? textPrompts
                        : textPrompts.Select(p => PromptTemplateCatalog.GetChat(template, pretrained.Tokenizer).Format([new ChatMessage("user", p)], addGenerationPrompt: true)).ToArray();
                    if (template is not null && pretrained.Tokenizer is { } tokenizer)
                    {
                        options = options with { EosTokenIds = [.. pretrained.Generator().DefaultEosTokenIds.Union(tokenizer.EosTokenIds)] };
                    }

                    bool streaming = texts.Length == 1;
                    var generated = pretrained.GenerateText(texts, options, streaming ? (_, delta) => context.Out.Write(delta) : null, addSpecialTokens: template is null, cancellationToken);
                    result = generated.Tokens;
                    if (streaming)
                    {
                        context.Out.WriteLine();
                    }
                    else
                    {
                        for (int i = 0; i < texts.Length; i++)
                        {
                            context.Out.WriteLine($"--- prompt {i + 1}: {textPrompts[i]}");
                            context.Out.WriteLine(generated.Texts[i]);
                        }
                    }
                }

                context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{result.GeneratedTokens} tokens in {(result.PrefillTime + result.DecodeTime).TotalSeconds:F2} s: {result.TokensPerSecond:F1} tokens/s " +
                    $"(prompt {result.PromptTokens} tokens, prefill {result.PrefillTime.TotalMilliseconds:F0} ms; finished: {string.Join(", ", result.FinishReasons.Select(r => r.ToString().ToLowerInvariant()))})"));
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static IReadOnlyList<int> ParseIds(string text)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        }
        catch (FormatException)
        {
            throw new SharpTuneException($"--ids '{text}': expected comma-separated integers");
        }
    }
}
