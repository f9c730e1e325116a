using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Models;
using SharpTune.Quantization;
using SharpTune.Runtime;
using SharpTune.Training;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune quantize</c>: writes the NF4 artifact of a HF model once, for training runs to load.</summary>
public static class QuantizeCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model") { Description = "The Hugging Face model directory (config.json + safetensors).", Required = true };
        var output = new Option<string>("--out") { Description = "The directory to write (model.nf4.safetensors, quantization.json, config and tokenizer files).", Required = true };
        var device = new Option<string>("--device") { Description = "Where to quantize: auto (the GPU when present), cpu, cuda, cuda:N.", DefaultValueFactory = _ => "auto" };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype of the non-quantized weights (embeddings, norms, LM head): auto, bf16, fp16 or fp32.", DefaultValueFactory = _ => "auto" };
        dtype.AcceptOnlyFromAmong("auto", "bf16", "fp16", "fp32");
        var noDouble = new Option<bool>("--no-double-quant") { Description = "Keep the per-block absmax in float32 instead of 8-bit (bitsandbytes' compress_statistics=False)." };
        var command = new Command("quantize", "Quantize a model's decoder projections to NF4 (bitsandbytes' layout: blocks of 64, double-quantized absmax) and save the result, so training runs skip this step.")
        {
            model, output, device, dtype, noDouble,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            string source = parsed.GetValue(model)!;
            var target = TrainingRun.ResolveDevice(parsed.GetValue(device)!);
            var computeDtype = TrainingRun.ResolveDType(parsed.GetValue(dtype)!, target);
            using var progress = new ConsoleProgress(context.Error);
            using var quantized = QuantizedBaseModel.QuantizeWhileLoading(source, computeDtype, target, !parsed.GetValue(noDouble), progress);
            string directory = parsed.GetValue(output)!;
            QuantizedBaseModel.Save(quantized, directory, source);
            long bytes = new FileInfo(Path.Combine(directory, QuantizedBaseModel.WeightsFileName)).Length;
            context.Out.WriteLine($"wrote NF4 {quantized.Config.Architecture} ({bytes / (1024.0 * 1024):F1} MiB, compute {CausalLM.DTypeName(computeDtype)}) to {Path.GetFullPath(directory)}");
            return 0;
        });
        return command;
    }
}
