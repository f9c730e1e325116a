using System.CommandLine;
using SharpTune.Runtime;
using SharpTune.Lora;
using SharpTune.Cli.Rendering;
using SharpTune.Gguf;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune export gguf</c>: a Hugging Face model directory to GGUF files for llama.cpp/Ollama, one per
/// quantization, each with an Ollama Modelfile; <c>sharptune export bench</c>: export speed at Llama-3-8B size on
/// synthetic weights.
/// </summary>
public static class ExportCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("export", "Export models for other runtimes.");
        command.Subcommands.Add(CreateGguf(context));
        command.Subcommands.Add(CreateBench(context));
        return command;
    }

    private static Option<string> QuantOption(string defaultValue) => new("--quant")
    {
        Description = $"Comma-separated GGUF types: {string.Join(", ", GgufFileTypes.Names)}. " +
            "q4_k_m/q5_k_m follow llama.cpp's mixes (more bits for some attn_v/ffn_down layers and the output head).",
        DefaultValueFactory = _ => defaultValue,
    };

    private static IReadOnlyList<GgufFileType> ParseQuants(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(GgufFileTypes.Parse).Distinct().ToArray() is { Length: > 0 } types
            ? types
            : throw new SharpTuneException("--quant names no GGUF type");

    private static Command CreateGguf(CliContext context)
    {
        var model = new Option<string>("--model")
        {
            Description = "Hugging Face model directory: config.json, *.safetensors, tokenizer.json, tokenizer_config.json (a merged LoRA model is one).",
            Required = true,
        };
        var adapter = new Option<string?>("--adapter")
        {
            Description = "A PEFT LoRA adapter directory to merge into --model first (the merged 16-bit model is temporary).",
        };
        var quant = QuantOption("q8_0");
        var output = new Option<string?>("--out") { Description = "Output directory (default: <adapter or model>/gguf)." };
        var system = new Option<string?>("--system") { Description = "SYSTEM message for the Ollama Modelfile." };
        var name = new Option<string?>("--name") { Description = "Model name for general.name and the file names (default: the model directory's name)." };
        var threads = new Option<int?>("--threads") { Description = "Threads that quantize (default: all cores)." };
        var command = new Command("gguf", "Export a Hugging Face model directory to GGUF (llama.cpp, Ollama) with an Ollama Modelfile beside each file.")
        {
            model, adapter, quant, output, system, name, threads,
        };
        command.SetAction((parsed, cancellationToken) =>
        {
            string modelDirectory = parsed.GetValue(model)!;
            if (!Directory.Exists(modelDirectory))
            {
                throw new SharpTuneException($"--model {modelDirectory}: directory not found");
            }

            string? adapterDirectory = parsed.GetValue(adapter);
            if (adapterDirectory is not null && !Directory.Exists(adapterDirectory))
            {
                throw new SharpTuneException($"--adapter {adapterDirectory}: directory not found");
            }

            var types = ParseQuants(parsed.GetValue(quant)!);
            string named = adapterDirectory ?? modelDirectory;
            string outDirectory = parsed.GetValue(output) ?? Path.Combine(named, "gguf");
            Directory.CreateDirectory(outDirectory);
            string modelName = parsed.GetValue(name) ?? new DirectoryInfo(Path.GetFullPath(named)).Name;
            using var merged = adapterDirectory is null ? null : MergedModel.Create(modelDirectory, adapterDirectory, parsed, context);
            modelDirectory = merged?.Directory ?? modelDirectory;
            string? chatTemplate = GgufVocabulary.Load(modelDirectory, HfModelHyperparameters.Load(modelDirectory)).ChatTemplate;
            using var progress = new ConsoleProgress(context.Error);
            foreach (var type in types)
            {
                string path = Path.Combine(outDirectory, $"{modelName}.{type.Name()}.gguf");
                var result = GgufExporter.Export(modelDirectory, path, type, progress,
                    new GgufExportOptions { Name = modelName, Threads = parsed.GetValue(threads) }, cancellationToken);
                string modelfile = OllamaModelfile.WriteBeside(path, chatTemplate, parsed.GetValue(system), $"{modelName}.{type.Name()}.Modelfile");
                context.Out.WriteLine($"{type.Name(),-7} {path} ({result.FileBytes / 1048576.0:F1} MiB, {result.Tensors.Count} tensors, {result.Elapsed.TotalSeconds:F1} s)");
                context.Out.WriteLine($"{"",-7} {modelfile} (ollama create {modelName}-{type.Name()} -f {Path.GetFileName(modelfile)})");
            }

            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>Base + adapter merged (through <see cref="LoraMerger"/>) into a temporary 16-bit model directory.</summary>
    private sealed class MergedModel : IDisposable
    {
        private MergedModel(string directory) => Directory = directory;

        public string Directory { get; }

        public static MergedModel Create(string modelDirectory, string adapterDirectory, ParseResult parsed, CliContext context)
        {
            TorchRuntime.Initialize(GlobalOptions.RuntimeOptions(parsed));
            string directory = Path.Combine(Path.GetTempPath(), "sharptune-merge-" + Guid.NewGuid().ToString("N"));
            using var progress = new ConsoleProgress(context.Error);
            var result = LoraMerger.Merge(modelDirectory, adapterDirectory, directory, progress: progress);
            context.Error.WriteLine($"merged {result.MergedModules} adapted projections of {adapterDirectory} into {modelDirectory} ({result.DType})");
            return new MergedModel(directory);
        }

        public void Dispose()
        {
            if (System.IO.Directory.Exists(Directory))
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
        }
    }

    private static Command CreateBench(CliContext context)
    {
        var quant = QuantOption("q8_0,q4_k_m");
        var layers = new Option<int>("--layers") { Description = "Decoder layers (32 is Llama-3-8B).", DefaultValueFactory = _ => 32 };
        var output = new Option<string?>("--out") { Description = "Directory for the files (default: a temporary directory; files are deleted unless --keep)." };
        var keep = new Option<bool>("--keep") { Description = "Keep the written GGUF files." };
        var threads = new Option<int?>("--threads") { Description = "Threads that quantize (default: all cores)." };
        var command = new Command("bench", "Time GGUF export of a Llama-3-8B-shaped model (synthetic weights generated on the fly, real tensor shapes and write path).")
        {
            quant, layers, output, keep, threads,
        };
        command.SetAction((parsed, cancellationToken) =>
        {
            var config = SyntheticTensorSource.Llama3_8B(parsed.GetValue(layers));
            string directory = parsed.GetValue(output) ?? Path.Combine(Path.GetTempPath(), "sharptune-export-bench-" + Environment.ProcessId);
            Directory.CreateDirectory(directory);
            var vocabulary = SyntheticTensorSource.PlaceholderVocabulary(config.VocabSize);
            using var progress = new ConsoleProgress(context.Error);
            context.Out.WriteLine($"llama3-8b shape, {config.LayerCount} layers, {Environment.ProcessorCount} cores, threads {parsed.GetValue(threads)?.ToString() ?? "all"}");
            foreach (var type in ParseQuants(parsed.GetValue(quant)!))
            {
                string path = Path.Combine(directory, $"bench.{type.Name()}.gguf");
                using var source = new SyntheticTensorSource(config);
                var result = GgufExporter.Export(config, vocabulary, source, path, type, progress,
                    new GgufExportOptions { Name = "bench", Threads = parsed.GetValue(threads) }, cancellationToken);
                context.Out.WriteLine($"{type.Name(),-7} {result.Parameters / 1e9:F2} B params -> {result.FileBytes / 1073741824.0:F2} GiB in {result.Elapsed.TotalSeconds:F1} s " +
                    $"({result.Parameters / result.Elapsed.TotalSeconds / 1e6:F0} M params/s, {result.FileBytes / result.Elapsed.TotalSeconds / 1048576:F0} MiB/s written)");
                if (!parsed.GetValue(keep))
                {
                    File.Delete(path);
                }
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
