using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Runtime;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune merge</c>: folds a LoRA adapter into its base and writes a 16-bit HF model directory.</summary>
public static class MergeCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "The base: a Hugging Face model directory (best: the original 16-bit weights) or a 'sharptune quantize' directory.", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors), e.g. a training run's out/adapter.", Required = true };
        var output = new Option<string>("--out") { Description = "The merged model directory to write.", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "bf16, fp16 or fp32. Default: the base's torch_dtype (bf16 when unset)." };
        var command = new Command("merge", "Merge a LoRA adapter into its base model (W + alpha/r * B@A) and save a 16-bit Hugging Face model directory with its tokenizer.")
        {
            model, adapter, output, dtype,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            using var progress = new ConsoleProgress(context.Error);
            var type = parsed.GetValue(dtype) is { } name ? CausalLM.ParseDType(name) : (TorchSharp.torch.ScalarType?)null;
            var result = LoraMerger.Merge(parsed.GetValue(model)!, parsed.GetValue(adapter)!, parsed.GetValue(output)!, type, progress);
            context.Out.WriteLine($"merged {result.MergedModules} LoRA modules, wrote {CausalLM.DTypeName(result.DType)} model to {Path.GetFullPath(result.OutputDirectory)}");
            return 0;
        });
        return command;
    }
}
