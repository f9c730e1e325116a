using System.CommandLine;
using System.Globalization;
using SharpTune.Cli.Rendering;
using SharpTune.Distributed;
using SharpTune.Distributed.Launch;
using SharpTune.Models;
using SharpTune.Runtime;
using SharpTune.Runtime.Nvml;
using SharpTune.Training;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune train</c>: QLoRA/LoRA supervised fine-tuning from a YAML file, with options overriding it.</summary>
public static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string?>("--config") { Description = "A YAML file of training settings (snake_case keys: model, dataset, output_dir, max_steps, learning_rate, ...)." };
        var model = new Option<string?>("--model") { Description = "HF model directory (overrides 'model')." };
        var quantized = new Option<string?>("--quantized-model") { Description = "A 'sharptune quantize' directory to train on (overrides 'quantized_model')." };
        var dataset = new Option<string?>("--dataset") { Description = "Tokenized dataset directory from 'sharptune data format' (overrides 'dataset')." };
        var output = new Option<string?>("--output-dir") { Description = "Checkpoints, train_log.jsonl and the final adapter/ go here (overrides 'output_dir')." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Optimizer steps (overrides 'max_steps'; 0 = use epochs)." };
        var lr = new Option<double?>("--learning-rate") { Description = "Peak learning rate (overrides 'learning_rate')." };
        var batch = new Option<int?>("--batch-size") { Description = "Sequences per micro-batch (overrides 'batch_size')." };
        var accumulation = new Option<int?>("--gradient-accumulation") { Description = "Micro-batches per optimizer step (overrides 'gradient_accumulation')." };
        var maxLength = new Option<int?>("--max-sequence-length") { Description = "Longer examples are cut (overrides 'max_sequence_length')." };
        var checkpointing = new Option<string?>("--gradient-checkpointing") { Description = "off, on or offload (overrides 'gradient_checkpointing')." };
        checkpointing.AcceptOnlyFromAmong("off", "on", "offload");
        var precision = new Option<string?>("--precision") { Description = "auto, bf16, fp16 or fp32 (overrides 'precision')." };
        var device = new Option<string?>("--device") { Description = "auto, cpu, cuda or cuda:N (overrides 'device')." };
        var seed = new Option<int?>("--seed") { Description = "Seed of data order, LoRA init and dropout (overrides 'seed')." };
        var synthetic = new Option<int?>("--synthetic-tokens") { Description = "Benchmark: train on random sequences of this many tokens instead of a dataset." };
        var gpus = new Option<int?>("--gpus")
        {
            Description = "Train on N GPUs of this host, one process each (data parallel over NCCL; overrides 'gpus'). batch_size is per GPU: " +
                "a step sees batch_size x gradient_accumulation x N sequences. Under torchrun/Slurm the job's WORLD_SIZE decides.",
        };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in the output directory (same loss curve as an uninterrupted run)." };
        var command = new Command("train", "Fine-tune with QLoRA (NF4 base + LoRA adapters) or LoRA: settings from --config, each option below overriding the file. Writes PEFT adapters.")
        {
            config, model, quantized, dataset, output, maxSteps, lr, batch, accumulation, maxLength, checkpointing, precision, device, seed, synthetic, gpus, resume,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            var options = parsed.GetValue(config) is { } path ? TrainingOptions.LoadYaml(path) : new TrainingOptions();
            options = options with
            {
                Model = parsed.GetValue(model) ?? options.Model,
                QuantizedModel = parsed.GetValue(quantized) ?? options.QuantizedModel,
                Dataset = parsed.GetValue(dataset) ?? options.Dataset,
                OutputDir = parsed.GetValue(output) ?? options.OutputDir,
                MaxSteps = parsed.GetValue(maxSteps) ?? options.MaxSteps,
                LearningRate = parsed.GetValue(lr) ?? options.LearningRate,
                BatchSize = parsed.GetValue(batch) ?? options.BatchSize,
                GradientAccumulation = parsed.GetValue(accumulation) ?? options.GradientAccumulation,
                MaxSequenceLength = parsed.GetValue(maxLength) ?? options.MaxSequenceLength,
                GradientCheckpointing = parsed.GetValue(checkpointing) is { } mode ? Enum.Parse<GradientCheckpointing>(mode, ignoreCase: true) : options.GradientCheckpointing,
                Precision = parsed.GetValue(precision) ?? options.Precision,
                Device = parsed.GetValue(device) ?? options.Device,
                Seed = parsed.GetValue(seed) ?? options.Seed,
                SyntheticTokens = parsed.GetValue(synthetic) ?? options.SyntheticTokens,
                Resume = parsed.GetValue(resume) || options.Resume,
                Gpus = parsed.GetValue(gpus) ?? options.Gpus,
            };
            options = options.Validated();
            if (LocalLauncher.RunThisToolOnGpus(options.Gpus, Environment.GetCommandLineArgs()[1..], context.Out, context.Error) is { } job)
            {
                // This process only started the ranks; rank 0 printed the results (prefixed [rank 0]).
                if (!job.Succeeded)
                {
                    throw new DistributedException(job.FailureMessage!, job.ExitCode);
                }

                context.Error.WriteLine($"train: all {options.Gpus} ranks finished in {job.Duration.TotalSeconds:0.0} s");
                return 0;
            }

            using var progress = new ConsoleProgress(context.Error);
            var summary = TrainingRun.Run(options, progress);
            if (!DistributedEnvironment.FromEnvironment().IsMain)
            {
                return 0;
            }

            var steps = summary.Result.Steps;
            var timed = steps.Skip(steps.Count > 2 ? 1 : 0).Select(s => s.StepSeconds).Order().ToArray();
            double median = timed.Length == 0 ? 0 : timed[timed.Length / 2];
            var inv = CultureInfo.InvariantCulture;
            string ranks = summary.WorldSize > 1 ? $" x {summary.WorldSize} ranks" : "";
            context.Out.WriteLine(string.Create(inv, $"trained {steps.Count - summary.Result.ResumedFromStep} steps on {summary.Device}{ranks} in {CausalLM.DTypeName(summary.DType)} ({summary.TrainableParameters / 1e6:F2}M trainable parameters)"));
            if (steps.Count > 0)
            {
                context.Out.WriteLine(string.Create(inv, $"final loss {steps[^1].Loss:F4}, median step {median:F3} s, {steps.Skip(1).DefaultIfEmpty(steps[0]).Average(s => s.TokensPerSecond):F0} tokens/s, peak GPU memory {GpuMemoryMeter.Format(summary.Result.PeakGpuMemoryBytes)}"));
            }

            if (options.CheckpointLayersAuto && options.GradientCheckpointing != GradientCheckpointing.Off)
            {
                context.Out.WriteLine(summary.Result.CheckpointLayers is { } n
                    ? $"checkpoint_layers auto: after the first step, the first {n} layers were checkpointed and the remaining ones, if any, kept their activations"
                    : "checkpoint_layers auto: every layer stayed checkpointed (no step was run, or the GPU memory or architecture is unknown)");
            }

            if (summary.Result.OffloadedBytes is { } offloaded)
            {
                context.Out.WriteLine(ActivationOffload.Describe(options.OffloadMlpLayers, offloaded, anyLayerCheckpointed: summary.Result.CheckpointLayers != 0));
            }

            context.Out.WriteLine($"adapter: {Path.GetFullPath(summary.Result.AdapterDirectory)}");
            context.Out.WriteLine($"log: {Path.GetFullPath(Path.Combine(options.OutputDir, SftTrainer.LogFileName))}");
            return 0;
        });
        return command;
    }
}
