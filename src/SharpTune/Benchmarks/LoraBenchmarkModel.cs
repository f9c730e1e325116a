using SharpTune.Lora;
using SharpTune.Models;
using SharpTune.Models.Layers;
using SharpTune.Quantization;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Benchmarks;

/// <summary>
/// A <see cref="CausalLM"/> with random weights drawn directly on its device (never on the CPU first for a GPU),
/// its decoder projections optionally NF4-quantized one at a time, and LoRA on the chosen projections; trainable by
/// <see cref="SftTrainer"/> with each decoder layer checkpointed as asked.
/// </summary>
public sealed class LoraBenchmarkModel : ITrainableCausalLM, IDisposable
{
    private readonly CausalLM _model;
    private readonly List<(string Name, Parameter Parameter)> _trainable = [];
    private readonly List<LoraLinear> _adapters = [];

    public LoraBenchmarkModel(ModelConfig config, bool quantize, int rank, double alpha, IReadOnlyCollection<string> targets, ScalarType dtype, Device device, long seed)
    {
        Device = device;
        ComputeDtype = dtype;
        // TorchSharp's Generator is a CPU generator, which CUDA sampling refuses: seed the default generators instead.
        RandomSeeds.SetAll(seed);
        double std = config.InitializerRange;
        _model = CausalLM.Create(config, dtype, device, (name, shape, role) =>
        {
            using var scope = NewDisposeScope();
            bool projection = quantize && name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.weight", StringComparison.Ordinal);
            var value = role switch
            {
                // Drawn later, one matrix at a time, straight into NF4 (the 16-bit model is never whole in memory).
                _ when projection => empty(shape, dtype, device: new Device(DeviceType.META)),
                WeightRole.Matrix => empty(shape, dtype, device).normal_(0, std),
                WeightRole.Bias => zeros(shape, dtype, device: device),
                _ => ones(shape, dtype, device: device),
            };
            return CausalLM.AsParameter(value.MoveToOuterDisposeScope());
        });
        foreach (var parameter in _model.parameters())
        {
            parameter.requires_grad = false;
        }

        var loraGenerator = new Generator((ulong)seed + 1);
        _model.ReplaceProjections(name => true, (name, current) =>
        {
            var linear = (Linear)current;
            long outFeatures = linear.weight!.shape[0];
            long inFeatures = linear.weight!.shape[1];
            nn.Module<Tensor, Tensor> baseLayer = current;
            if (quantize)
            {
                using var scope = NewDisposeScope();
                var weight = empty([outFeatures, inFeatures], dtype, device).normal_(0, std);
                baseLayer = Nf4Linear.FromWeight(weight, linear.bias?.detach().clone().MoveToOuterDisposeScope());
                current.Dispose();
            }

            string shortName = name.Split('.')[^1];
            if (!targets.Contains(shortName))
            {
                return baseLayer;
            }

            var lora = new LoraLinear(baseLayer, inFeatures, outFeatures, rank, alpha / rank, 0.0, loraGenerator);
            lora.to(device);
            _adapters.Add(lora);
            _trainable.Add(($"base_model.model.{name}.lora_A.weight", lora.LoraA));
            _trainable.Add(($"base_model.model.{name}.lora_B.weight", lora.LoraB));
            return lora;
        });
    }

    public CausalLM Model => _model;

    public Device Device { get; }

    public ScalarType ComputeDtype { get; }

    public ModelConfig? Architecture => _model.Config;

    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters => _trainable;

    public long TrainableParameterCount => _trainable.Sum(p => p.Parameter.numel());

    public Tensor ForwardHidden(Tensor inputIds, GradientCheckpointing checkpointing, long seed, Action<int>? layerBackwardDone = null, int? checkpointedLayers = null,
        ActivationOffload? activationOffload = null) =>
        CheckpointedDecoder.ForwardHidden(_model, inputIds, checkpointing, seed, layerBackwardDone, checkpointedLayers, activationOffload);

    public Tensor LmHead(Tensor hidden) => _model.LmHead.call(hidden);

    public void SetTraining(bool training)
    {
        foreach (var adapter in _adapters)
        {
            adapter.train(training);
        }
    }

    public void SaveAdapter(string directory)
    {
        Directory.CreateDirectory(directory);
        NamedTensorFile.Write(Path.Combine(directory, "adapter.bin"), _trainable.ToDictionary(p => p.Name, p => (Tensor)p.Parameter));
    }

    public void Dispose() => _model.Dispose();
}
