using System.CommandLine;
using SharpTune.Benchmarks;
using SharpTune.Cli.Rendering;
using SharpTune.Runtime;
using SharpTune.Training;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune bench</c>: times LoRA/QLoRA training steps of a random-weight model of real shapes.</summary>
public static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model")
        {
            Description = $"Model shapes ({string.Join(", ", BenchmarkModels.Names)}); weights are random, drawn on the device.",
            DefaultValueFactory = _ => "llama3-8b",
        };
        var mode = new Option<string>("--mode") { Description = "lora (bf16 base) or qlora (NF4 base).", DefaultValueFactory = _ => "qlora" };
        var batch = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => 2 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence (loss on all of them).", DefaultValueFactory = _ => 2048 };
        var checkpointing = new Option<string>("--checkpointing")
        {
            Description = "none (keep activations), layer (recompute each decoder layer in backward) or offload (layer inputs in pinned host memory).",
            DefaultValueFactory = _ => "layer",
        };
        var checkpointLayers = new Option<string?>("--checkpoint-layers")
        {
            Description = "With layer checkpointing, checkpoint only the first N decoder layers; the rest keep their activations (faster, more memory). auto: after the first step, keep as many as fit in the GPU's free memory. Default: all.",
        };
        var offloadMlp = new Option<int>("--offload-mlp-layers")
        {
            Description = "With checkpointing, this many checkpointed layers send their MLP's gate and up outputs to pinned host memory in the forward pass, " +
                "so their recompute skips those GEMMs (copies overlap the GPU's work; 235 MB of host memory per layer at 8B, 2 x 2048; faster at 8B, slower at 1B on an H200). 0: off.",
            DefaultValueFactory = _ => 0,
        };
        var memoryBudget = new Option<double?>("--memory-budget")
        {
            Description = "With --checkpoint-layers auto: the GPU memory in GiB (NVML, this process) the run may reach; the layers that keep their activations fit in it. Default: the GPU's free memory.",
        };
        var steps = new Option<int>("--steps") { Description = "Measured steps.", DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { Description = "Steps run first and left out of the statistics.", DefaultValueFactory = _ => 1 };
        var kernels = new Option<string>("--kernels") { Description = "on: fused CUDA kernels (RMSNorm, RoPE, SwiGLU, NF4 dequantization, AdamW); and each LoRA projection as one node with a hand-written backward; off: the TorchSharp reference ops.", DefaultValueFactory = _ => "on" };
        var rank = new Option<int>("--rank") { Description = "LoRA rank on all seven projections (alpha = rank).", DefaultValueFactory = _ => 16 };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw or adamw_8bit.", DefaultValueFactory = _ => "adamw_8bit" };
        var lossChunk = new Option<int>("--loss-chunk")
        {
            Description = "Rows of the LM head's input per loss chunk: at most this many rows of logits and their gradient exist at a time (model dtype with the kernels, float32 without).",
            DefaultValueFactory = _ => CausalLmLoss.DefaultChunkTokens,
        };
        var embedding = new Option<string>("--embedding")
        {
            Description = "device: the input embedding table on the GPU; host: in pinned host memory, the batch's rows copied each step (meant to free 1 GB at 8B; untied models only).",
            DefaultValueFactory = _ => "device",
        };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to this file." };
        var trace = new Option<string?>("--trace")
        {
            Description = "Write a timeline of the first measured step to this file: host time and the process's GPU memory at each layer's " +
                "forward, recompute and backward, the loss and the optimizer (PYTORCH_NO_CUDA_MEMORY_CACHING=1 shows live tensors instead of the allocator's reserve).",
        };
        var traceSync = new Option<string>("--trace-sync")
        {
            Description = "on: each trace mark waits for the GPU, so sections are GPU times; off: marks show how far the host runs ahead.",
            DefaultValueFactory = _ => "on",
        };

        var command = new Command("bench", "Time real LoRA/QLoRA training steps (forward, loss, backward, AdamW) of a random-weight model of real shapes: " +
            "median step time after warm-up, tokens/s, MFU (6 x dense params x tokens over the GPU's bf16 peak) and peak GPU memory (NVML).")
        {
            model, mode, batch, seq, checkpointing, checkpointLayers, memoryBudget, offloadMlp, steps, warmup, kernels, rank, optimizer, lossChunk, embedding, device, json, trace, traceSync,
        };
        command.SetAction(parsed =>
        {
            var options = new BenchmarkOptions
            {
                Model = parsed.GetValue(model)!,
                Mode = parsed.GetValue(mode)!,
                Batch = parsed.GetValue(batch),
                Sequence = parsed.GetValue(seq),
                Checkpointing = ParseCheckpointing(parsed.GetValue(checkpointing)!),
                CheckpointLayers = parsed.GetValue(checkpointLayers),
                OffloadMlpLayers = parsed.GetValue(offloadMlp),
                GpuMemoryBudgetGib = parsed.GetValue(memoryBudget),
                Steps = parsed.GetValue(steps),
                Warmup = parsed.GetValue(warmup),
                Kernels = ParseSwitch(parsed.GetValue(kernels)!, "--kernels"),
                LoraRank = parsed.GetValue(rank),
                Optimizer = parsed.GetValue(optimizer)!,
                LossChunkTokens = parsed.GetValue(lossChunk),
                EmbeddingOnHost = parsed.GetValue(embedding) switch
                {
                    "host" => true,
                    "device" => false,
                    var other => throw new SharpTuneException($"bench: --embedding must be host or device, not '{other}'"),
                },
                Device = parsed.GetValue(device)!,
                TracePath = parsed.GetValue(trace),
                TraceSynchronize = ParseSwitch(parsed.GetValue(traceSync)!, "--trace-sync"),
            }.Validated();
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            BenchmarkResult result;
            using (var progress = new ConsoleProgress(context.Error))
            {
                result = TrainingBenchmark.Run(options, progress);
            }

            context.Out.Write(result.ToTable());
            if (options.TracePath is { } tracePath)
            {
                context.Out.WriteLine($"wrote the trace of step {options.Warmup + 1} to {Path.GetFullPath(tracePath)}");
            }

            if (parsed.GetValue(json) is { } path)
            {
                result.WriteJson(path);
                context.Out.WriteLine($"wrote {Path.GetFullPath(path)}");
            }

            return 0;
        });
        return command;
    }

    private static GradientCheckpointing ParseCheckpointing(string value) => value switch
    {
        "none" or "off" => GradientCheckpointing.Off,
        "layer" or "on" => GradientCheckpointing.On,
        "offload" => GradientCheckpointing.Offload,
        _ => throw new SharpTuneException($"bench: --checkpointing must be none, layer or offload, not '{value}'"),
    };

    private static bool ParseSwitch(string value, string option) => value switch
    {
        "on" => true,
        "off" => false,
        _ => throw new SharpTuneException($"bench: {option} must be on or off, not '{value}'"),
    };
}
