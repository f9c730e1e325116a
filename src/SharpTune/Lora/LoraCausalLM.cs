using SharpTune.Models;
using SharpTune.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Lora;

/// <summary>
/// A <see cref="CausalLM"/> (16-bit or NF4 base) with LoRA on the configured projections, ready for training:
/// everything but the adapters is frozen, A matrices are initialized in model order from the config's seed, decoder
/// layers can be checkpointed, and the adapters are named and saved as PEFT names them.
/// </summary>
public sealed class LoraCausalLM : ITrainableCausalLM, IDisposable
{
    private readonly List<(string Path, LoraLinear Layer)> _adapters = [];
    private readonly IReadOnlyList<(string Name, Parameter Parameter)> _trainable;

    public LoraCausalLM(CausalLM model, LoraConfig config)
    {
        Model = model;
        Config = config.Validated();
        foreach (var parameter in model.parameters())
        {
            parameter.requires_grad = false;
        }

        var generator = new Generator((ulong)Config.Seed);
        model.ReplaceProjections(
            name => Config.TargetModules.Contains(name[(name.LastIndexOf('.') + 1)..]),
            (name, current) =>
            {
                var (inFeatures, outFeatures) = Features(current, name);
                var lora = new LoraLinear(current, inFeatures, outFeatures, Config.Rank, Config.Scaling, Config.Dropout, generator);
                lora.to(model.Device);
                _adapters.Add((name, lora));
                return lora;
            });
        if (_adapters.Count == 0)
        {
            throw new SharpTuneException($"no projection matched the LoRA targets {string.Join(", ", Config.TargetModules)}");
        }

        _trainable = _adapters.SelectMany(a => new[]
        {
            (PeftAdapter.Key(a.Path, 'A'), a.Layer.LoraA),
            (PeftAdapter.Key(a.Path, 'B'), a.Layer.LoraB),
        }).ToArray();
        model.train(false);
    }

    public CausalLM Model { get; }

    public LoraConfig Config { get; }

    /// <summary>The wrapped projections by HF module path ("model.layers.0.self_attn.q_proj").</summary>
    public IReadOnlyList<(string Path, LoraLinear Layer)> Adapters => _adapters;

    public Device Device => Model.Device;

    public ScalarType ComputeDtype => Model.DType;

    public ModelConfig? Architecture => Model.Config;

    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters => _trainable;

    public long TrainableParameterCount => _trainable.Sum(p => p.Parameter.NumberOfElements);

    public Tensor ForwardHidden(Tensor inputIds, GradientCheckpointing checkpointing, long seed, Action<int>? layerBackwardDone = null, int? checkpointedLayers = null,
        ActivationOffload? activationOffload = null) =>
        CheckpointedDecoder.ForwardHidden(Model, inputIds, checkpointing, seed, layerBackwardDone, checkpointedLayers, activationOffload);

    public Tensor LmHead(Tensor hidden) => Model.LmHead.call(hidden);

    /// <summary>Logits [batch, seq, vocab] of the adapted model (no checkpointing, current train/eval mode).</summary>
    public Tensor Logits(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var hidden = ForwardHidden(inputIds, GradientCheckpointing.Off, 0);
        return LmHead(hidden).MoveToOuterDisposeScope();
    }

    public void SetTraining(bool training)
    {
        foreach (var (_, layer) in _adapters)
        {
            layer.train(training);
        }
    }

    public void SaveAdapter(string directory) => PeftAdapter.Save(directory, Config, _adapters);

    /// <summary>Copies the weights of a loaded PEFT adapter into this model's adapters (same targets and rank).</summary>
    public void LoadAdapterWeights(PeftAdapter.Loaded adapter)
    {
        using var noGrad = no_grad();
        foreach (var (path, layer) in _adapters)
        {
            if (!adapter.Modules.TryGetValue(path, out var weights))
            {
                throw new SharpTuneException($"the adapter has no weights for {path}");
            }

            layer.LoraA.copy_(weights.A);
            layer.LoraB.copy_(weights.B);
        }
    }

    public void Dispose() => Model.Dispose();

    /// <summary>The (in, out) features of a projection: a TorchSharp Linear or an NF4 layer.</summary>
    public static (long In, long Out) Features(nn.Module<Tensor, Tensor> projection, string name) => projection switch
    {
        Linear linear => (linear.in_features, linear.out_features),
        Quantization.Nf4Linear nf4 => (nf4.InFeatures, nf4.OutFeatures),
        _ => throw new SharpTuneException($"{name}: cannot put LoRA on a {projection.GetType().Name}"),
    };
}
