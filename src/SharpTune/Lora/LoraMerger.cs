using SharpTune.Models;
using SharpTune.Models.Checkpoint;
using SharpTune.Models.Layers;
using SharpTune.Progress;
using SharpTune.Quantization;
using static TorchSharp.torch;

namespace SharpTune.Lora;

/// <summary>
/// Folds a LoRA adapter into its base model and writes a plain 16-bit Hugging Face model directory:
/// <c>W' = W + scaling * B @ A</c> computed in float32 for every adapted projection, then stored in the output dtype
/// (config.json, safetensors shards, tokenizer and generation files copied). The base is a HF directory (best: the
/// original 16-bit weights) or a quantized artifact, whose NF4 weights are dequantized first.
/// </summary>
public static class LoraMerger
{
    public sealed record Result(string OutputDirectory, int MergedModules, ScalarType DType);

    public static Result Merge(string modelDirectory, string adapterDirectory, string outputDirectory, ScalarType? dtype = null,
        IProgress<OperationProgress>? progress = null)
    {
        using var adapter = PeftAdapter.Load(adapterDirectory);
        var config = ModelConfig.Load(modelDirectory);
        var outputType = dtype ?? (config.TorchDtype is { } stored ? CausalLM.ParseDType(stored) : ScalarType.BFloat16);
        double scaling = adapter.Config.Scaling;
        var pending = new HashSet<string>(adapter.Modules.Keys, StringComparer.Ordinal);
        var tensors = new List<(string Name, Tensor Tensor)>();
        int merged = 0;
        try
        {
            foreach (var (name, weight) in BaseTensors(modelDirectory, progress))
            {
                using (weight)
                {
                    string module = name.EndsWith(".weight", StringComparison.Ordinal) ? name[..^".weight".Length] : name;
                    Tensor result;
                    if (adapter.Modules.TryGetValue(module, out var lora))
                    {
                        using var scope = NewDisposeScope();
                        var delta = matmul(lora.B, lora.A) * scaling;
                        if (!delta.shape.SequenceEqual(weight.shape))
                        {
                            throw new SharpTuneException($"{adapterDirectory}: '{module}' gives a [{string.Join(", ", delta.shape)}] update for a [{string.Join(", ", weight.shape)}] weight (adapter of another model?)");
                        }

                        result = (weight.to(ScalarType.Float32) + delta).to(outputType).MoveToOuterDisposeScope();
                        pending.Remove(module);
                        merged++;
                    }
                    else
                    {
                        result = weight.is_floating_point() ? weight.to(outputType) : weight.clone();
                    }

                    tensors.Add((name, result.DetachFromDisposeScope()));
                }
            }

            if (pending.Count > 0)
            {
                throw new SharpTuneException($"{adapterDirectory}: the base model has no projection '{pending.First()}' (adapter of another model?)");
            }

            Directory.CreateDirectory(outputDirectory);
            progress?.Report(new OperationProgress("merge", 0, 1, "file", "writing"));
            ShardedSafetensorsWriter.Write(outputDirectory, tensors, 5L << 30);
            (config with { TorchDtype = CausalLM.DTypeName(outputType) }).Save(outputDirectory);
            QuantizedBaseModel.CopyCompanionFiles(modelDirectory, outputDirectory);
            progress?.Report(new OperationProgress("merge", 1, 1, "file", "done"));
            return new Result(outputDirectory, merged, outputType);
        }
        finally
        {
            foreach (var (_, t) in tensors)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>The base's tensors (HF names, CPU), one at a time; NF4 projections dequantized to float32.</summary>
    private static IEnumerable<(string Name, Tensor Tensor)> BaseTensors(string modelDirectory, IProgress<OperationProgress>? progress)
    {
        if (QuantizedBaseModel.IsQuantizedDirectory(modelDirectory))
        {
            using var model = QuantizedBaseModel.Load(modelDirectory, ScalarType.Float32, CPU);
            var projections = new Dictionary<string, Nf4Linear>(StringComparer.Ordinal);
            for (int i = 0; i < model.Layers.Count; i++)
            {
                foreach (string path in DecoderLayer.ProjectionPaths)
                {
                    projections[$"model.layers.{i}.{path}.weight"] = (Nf4Linear)model.Layers[i].Projection(path);
                }
            }

            foreach (var (name, nf4) in projections)
            {
                yield return (name, nf4.DequantizedWeight(ScalarType.Float32));
                if (nf4.Bias is { } bias)
                {
                    yield return (name[..^".weight".Length] + ".bias", bias.clone());
                }
            }

            foreach (var (name, tensor) in model.CheckpointTensors())
            {
                if (!projections.ContainsKey(name) && !(name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.bias", StringComparison.Ordinal)))
                {
                    yield return (name, tensor.clone());
                }
            }

            yield break;
        }

        using var checkpoint = CheckpointDirectory.Open(modelDirectory);
        var names = checkpoint.TensorNames.ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            progress?.Report(new OperationProgress("merge", i, names.Length, "tensor", names[i]));
            yield return (names[i], checkpoint.ReadTensor(names[i]));
        }
    }
}
