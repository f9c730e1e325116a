using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using SharpTune.Models.Layers;
using SharpTune.Progress;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// A <see cref="CausalLM"/> whose seven decoder projections are NF4 (<see cref="Nf4Linear"/>) and everything else
/// (embeddings, norms, LM head, biases) is in the compute dtype. Built either by quantizing a HF directory while
/// loading (each projection is read, quantized on the device and freed before the next, so the 16-bit model never
/// exists whole), or from a quantized artifact written by <see cref="Save"/>: <c>config.json</c>, tokenizer files,
/// <c>quantization.json</c> and <c>model.nf4.safetensors</c>, where a projection <c>P.weight</c> is stored as
/// <c>P.weight.nf4</c> (uint8, two codes per byte), <c>P.weight.absmax.codes</c> (uint8), <c>P.weight.absmax.scales</c>
/// (float32 per 256 blocks) and <c>P.weight.absmax.offset</c> (float32 [1]); without double quantization
/// <c>P.weight.absmax</c> (float32 per block).
/// </summary>
public static class QuantizedBaseModel
{
    public const string WeightsFileName = "model.nf4.safetensors";
    public const string ManifestFileName = "quantization.json";

    private static readonly string[] CopiedFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"];

    /// <summary>True when <paramref name="directory"/> holds a quantized artifact.</summary>
    public static bool IsQuantizedDirectory(string directory) =>
        File.Exists(Path.Combine(directory, WeightsFileName)) && File.Exists(Path.Combine(directory, ManifestFileName));

    /// <summary>Is <paramref name="name"/> (a HF key) the weight of one of the seven decoder projections?</summary>
    public static bool IsProjectionWeight(string name) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.weight", StringComparison.Ordinal);

    /// <summary>Loads a HF model directory and quantizes its projections to NF4 on <paramref name="device"/>.</summary>
    public static CausalLM QuantizeWhileLoading(string modelDirectory, ScalarType computeDtype, Device device, bool doubleQuantize = true,
        IProgress<OperationProgress>? progress = null)
    {
        var config = ModelConfig.Load(modelDirectory);
        using var checkpoint = CheckpointDirectory.Open(modelDirectory);
        var model = CausalLM.Create(config, computeDtype, device, NonProjectionSource(checkpoint, modelDirectory, computeDtype, device));
        int total = config.NumHiddenLayers * DecoderLayer.ProjectionPaths.Count;
        int done = 0;
        model.ReplaceProjections(_ => true, (name, current) =>
        {
            var plain = (Linear)current;
            Nf4Linear quantized;
            using (var scope = NewDisposeScope())
            {
                var weight = checkpoint.ReadTensor(name + ".weight", computeDtype, device);
                quantized = new Nf4Linear(Nf4Quantizer.Quantize(weight, doubleQuantize), plain.bias);
            }

            plain.Dispose();
            progress?.Report(new OperationProgress("quantize", ++done, total, "tensor", name));
            return quantized;
        });
        return model;
    }

    /// <summary>
    /// A model of <paramref name="config"/>'s shape with random weights (normal, std 0.02; norms 1), projections drawn
    /// one at a time on the device and quantized at once: for benchmarks of large shapes (an 8B model) without weights
    /// and without ever holding the 16-bit model.
    /// </summary>
    public static CausalLM CreateRandom(ModelConfig config, long seed, ScalarType computeDtype, Device device)
    {
        Training.RandomSeeds.SetAll(seed);
        var model = CausalLM.Create(config, computeDtype, device, (name, shape, role) => IsProjectionWeight(name)
            ? Placeholder(shape, computeDtype)
            : CausalLM.AsParameter(role == WeightRole.NormScale ? ones(shape, computeDtype, device)
                : role == WeightRole.Bias ? zeros(shape, computeDtype, device)
                : randn(shape, computeDtype, device).mul_(0.02)));
        model.ReplaceProjections(_ => true, (name, current) =>
        {
            var plain = (Linear)current;
            Nf4Linear quantized;
            using (var scope = NewDisposeScope())
            {
                var weight = randn(plain.weight!.shape, computeDtype, device).mul_(0.02);
                quantized = new Nf4Linear(Nf4Quantizer.Quantize(weight), plain.bias);
            }

            plain.Dispose();
            return quantized;
        });
        return model;
    }

    /// <summary>Loads a quantized artifact written by <see cref="Save"/>.</summary>
    public static CausalLM Load(string directory, ScalarType computeDtype, Device device, IProgress<OperationProgress>? progress = null)
    {
        if (!IsQuantizedDirectory(directory))
        {
            throw new SharpTuneException($"{directory}: not a quantized model ({WeightsFileName} and {ManifestFileName} are missing); run 'sharptune quantize' first");
        }

        var config = ModelConfig.Load(directory);
        using var file = SafetensorsFile.Open(Path.Combine(directory, WeightsFileName));
        var model = CausalLM.Create(config, computeDtype, device, (name, shape, role) =>
        {
            if (IsProjectionWeight(name))
            {
                return Placeholder(shape, computeDtype);
            }

            return CausalLM.AsParameter(Read(file, name, computeDtype, device));
        });
        int total = config.NumHiddenLayers * DecoderLayer.ProjectionPaths.Count;
        int done = 0;
        model.ReplaceProjections(_ => true, (name, current) =>
        {
            var plain = (Linear)current;
            string key = name + ".weight";
            bool nested = file.Contains(key + ".absmax.codes");
            var weight = Nf4Quantizer.FromParts(
                plain.weight!.shape,
                Nf4Quantizer.DefaultBlockSize,
                Read(file, key + ".nf4", null, device),
                nested ? null : Read(file, key + ".absmax", null, device),
                nested ? Read(file, key + ".absmax.codes", null, device) : null,
                nested ? Read(file, key + ".absmax.scales", null, device) : null,
                nested ? ReadScalar(file, key + ".absmax.offset") : 0f);
            var layer = new Nf4Linear(weight, plain.bias);
            plain.Dispose();
            progress?.Report(new OperationProgress("load " + Path.GetFileName(Path.GetFullPath(directory)), ++done, total, "tensor", name));
            return layer;
        });
        return model;
    }

    /// <summary>Writes <paramref name="model"/> (projections NF4) as a quantized artifact, atomically per file.</summary>
    public static void Save(CausalLM model, string directory, string? sourceDirectory = null)
    {
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        var writer = new SafetensorsWriter();
        var projections = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < model.Layers.Count; i++)
        {
            foreach (string path in DecoderLayer.ProjectionPaths)
            {
                string key = $"model.layers.{i}.{path}.weight";
                if (model.Layers[i].Projection(path) is not Nf4Linear nf4)
                {
                    throw new SharpTuneException($"{key} is not quantized; only fully NF4 models can be saved as a quantized artifact");
                }

                projections.Add(key);
                var w = nf4.Weight;
                writer.Add(key + ".nf4", w.Packed.cpu());
                if (w.QuantizedAbsmax is { } q)
                {
                    writer.Add(key + ".absmax.codes", q.Codes.cpu());
                    writer.Add(key + ".absmax.scales", q.Absmax.cpu());
                    writer.Add(key + ".absmax.offset", tensor(new[] { w.AbsmaxOffset }));
                }
                else
                {
                    writer.Add(key + ".absmax", w.Absmax!.cpu());
                }

                if (nf4.Bias is { } bias)
                {
                    writer.Add($"model.layers.{i}.{path}.bias", bias.cpu());
                }
            }
        }

        foreach (var (name, value) in model.CheckpointTensors())
        {
            if (!projections.Contains(name) && !name.EndsWith("_proj.bias", StringComparison.Ordinal))
            {
                writer.Add(name, value.cpu());
            }
        }

        writer.Write(Path.Combine(directory, WeightsFileName), new Dictionary<string, string> { ["format"] = "pt", ["quantization"] = "nf4" });
        (model.Config with { TorchDtype = CausalLM.DTypeName(model.DType) }).Save(directory);
        var manifest = new JsonObject
        {
            ["quant_type"] = "nf4",
            ["blocksize"] = Nf4Quantizer.DefaultBlockSize,
            ["double_quant_blocksize"] = Nf4Quantizer.NestedBlockSize,
            ["compute_dtype"] = CausalLM.DTypeName(model.DType),
            ["source"] = sourceDirectory,
            ["format"] = "sharptune-nf4-v1",
        };
        AtomicFile.WriteAllText(Path.Combine(directory, ManifestFileName), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (sourceDirectory is not null)
        {
            CopyCompanionFiles(sourceDirectory, directory);
        }
    }

    /// <summary>Copies tokenizer and generation files from one model directory to another (those that exist).</summary>
    public static void CopyCompanionFiles(string from, string to)
    {
        foreach (string name in CopiedFiles)
        {
            string source = Path.Combine(from, name);
            if (File.Exists(source) && Path.GetFullPath(source) != Path.GetFullPath(Path.Combine(to, name)))
            {
                File.Copy(source, Path.Combine(to, name), overwrite: true);
            }
        }
    }

    private static Models.Layers.WeightSource NonProjectionSource(CheckpointDirectory checkpoint, string directory, ScalarType dtype, Device device) =>
        (name, shape, role) =>
        {
            if (IsProjectionWeight(name))
            {
                return Placeholder(shape, dtype);
            }

            if (!checkpoint.Contains(name))
            {
                throw new SharpTuneException($"{directory}: the checkpoint has no tensor '{name}'");
            }

            return CausalLM.AsParameter(checkpoint.ReadTensor(name, dtype, device));
        };

    private static Parameter Placeholder(long[] shape, ScalarType dtype) =>
        CausalLM.AsParameter(empty(shape, dtype, new Device(TorchSharp.DeviceType.META)));

    private static Tensor Read(SafetensorsFile file, string name, ScalarType? dtype, Device device)
    {
        if (!file.Contains(name))
        {
            throw new SharpTuneException($"{file.Path}: tensor '{name}' is missing");
        }

        return file.ReadTensor(name, dtype, device);
    }

    private static float ReadScalar(SafetensorsFile file, string name)
    {
        using var t = Read(file, name, ScalarType.Float32, CPU);
        return t.item<float>();
    }
}
