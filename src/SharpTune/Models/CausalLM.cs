using SharpTune.Models.Checkpoint;
using SharpTune.Models.Generation;
using SharpTune.Models.Layers;
using SharpTune.Progress;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models;

/// <summary>
/// A Llama-family causal language model (HF <c>*ForCausalLM</c>): the decoder stack <c>model</c> plus the
/// <c>lm_head</c> projection to vocabulary logits. Module names follow Hugging Face exactly, so
/// <c>state_dict()</c> keys are HF's (<c>model.layers.0.self_attn.q_proj.weight</c>, <c>lm_head.weight</c>; a
/// tied lm_head shares the embedding's parameter and appears under both names, as in HF's state_dict).
/// </summary>
public sealed class CausalLM : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "model")]
    private readonly DecoderModel _model;

    [ComponentName(Name = "lm_head")]
    private readonly Linear _lmHead;

    private CausalLM(ModelConfig config, ScalarType dtype, Device device)
        : base(nameof(CausalLM))
    {
        Config = config;
        DType = dtype;
        Device = device;
        _model = new DecoderModel(config, dtype);
        _lmHead = LinearWeights.Placeholder(config.HiddenSize, config.VocabSize, bias: false, dtype);
        RegisterComponents();
    }

    public ModelConfig Config { get; }

    /// <summary>The element type of the weights and activations.</summary>
    public ScalarType DType { get; }

    public Device Device { get; }

    /// <summary>The decoder stack (HF <c>model</c>).</summary>
    public DecoderModel Model => _model;

    public Embedding Embed => _model.EmbedTokens;

    /// <summary>Whether the input embedding table is kept in host memory (see <see cref="KeepEmbeddingOnHost"/>).</summary>
    public bool EmbeddingOnHost
    {
        get
        {
            // TorchSharp's Embedding hands out a new handle per read of its weight.
            using var weight = Embed.weight!;
            return Device.type != DeviceType.CPU && weight.device.type == DeviceType.CPU;
        }
    }

    /// <summary>The input embeddings of <paramref name="inputIds"/> on the ids' device (from host memory when the table is kept there).</summary>
    public Tensor EmbedTokens(Tensor inputIds) => _model.Embed(inputIds);

    /// <summary>
    /// Moves the frozen input embedding table to pinned host memory: vocab x hidden 16-bit values less on the GPU
    /// (1 GB for Llama-3-8B's 128,256 x 4,096), for a host-side gather and a copy of tokens x hidden values per
    /// forward. Only for models whose LM head does not share the table (untied), and only while it is frozen.
    /// </summary>
    public void KeepEmbeddingOnHost()
    {
        if (Config.TieWordEmbeddings)
        {
            throw new SharpTuneException("embedding_on_host: this model's LM head shares the input embedding (tie_word_embeddings), so the table must stay on the GPU");
        }

        if (Device.type == DeviceType.CPU || EmbeddingOnHost)
        {
            return;
        }

        var current = Embed.weight!;
        if (current.requires_grad)
        {
            throw new SharpTuneException("embedding_on_host: the input embedding is being trained; only a frozen table can stay in host memory");
        }

        var registered = Embed.named_parameters(recurse: false).Select(p => p.parameter).ToList();
        using (no_grad())
        using (NewDisposeScope())
        {
            // Every intermediate handle is disposed here: one left to the garbage collector keeps the GPU copy alive.
            Embed.weight = AsParameter(current.detach().cpu().pin_memory());
        }

        current.Dispose();
        registered.ForEach(p => p.Dispose());
        // TorchSharp 0.107's Embedding is native: each read of its weight makes a new handle, and setting it replaces
        // the registered Parameter object without disposing it. Those handles hold the GPU copy until finalized:
        // without a collection it stayed allocated (seen on an H200).
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    public ModuleList<DecoderLayer> Layers => _model.Layers;

    public RmsNorm Norm => _model.Norm;

    public Linear LmHead => _lmHead;

    public RotaryEmbedding Rotary => _model.Rotary;

    /// <summary>
    /// Loads a Hugging Face model directory (config.json + safetensors, single or sharded) with weights converted
    /// to <paramref name="dtype"/> on <paramref name="device"/>. Weights are read tensor by tensor from memory-mapped
    /// files straight onto the device; nothing is randomly initialized first.
    /// </summary>
    public static CausalLM Load(string directory, ScalarType dtype, Device device, IProgress<OperationProgress>? progress = null)
    {
        CheckDType(dtype);
        var config = ModelConfig.Load(directory);
        using var checkpoint = CheckpointDirectory.Open(directory);
        long totalBytes = checkpoint.TensorNames.Sum(n => checkpoint.Info(n).ByteLength);
        long doneBytes = 0;
        Parameter Read(string name, long[] shape, WeightRole role)
        {
            if (!checkpoint.Contains(name))
            {
                throw new SharpTuneException($"{directory}: the checkpoint has no tensor '{name}', which a {config.Architecture} with this config.json needs");
            }

            var info = checkpoint.Info(name);
            if (!info.Shape.SequenceEqual(shape))
            {
                throw new SharpTuneException($"{checkpoint.FileOf(name).Path}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}], but config.json implies [{string.Join(", ", shape)}]");
            }

            var weight = checkpoint.ReadTensor(name, dtype, device);
            doneBytes += info.ByteLength;
            progress?.Report(new OperationProgress("load " + Path.GetFileName(Path.GetFullPath(directory)), doneBytes, totalBytes, "B"));
            return AsParameter(weight);
        }

        return Create(config, dtype, device, Read);
    }

    /// <summary>Builds a model whose every parameter comes from <paramref name="source"/> (HF names and shapes).</summary>
    public static CausalLM Create(ModelConfig config, ScalarType dtype, Device device, WeightSource source)
    {
        CheckDType(dtype);
        var model = new CausalLM(config, dtype, device);
        try
        {
            model._model.LoadFrom(source, "model.");
            if (config.TieWordEmbeddings)
            {
                model._lmHead.weight = model._model.EmbedTokens.weight!;
            }
            else
            {
                LinearWeights.Load(model._lmHead, source, "lm_head.");
            }

            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Logits [batch, seq, vocab] in the model's dtype, as HF's forward.</summary>
    public override Tensor forward(Tensor inputIds) => forward(inputIds, null);

    /// <inheritdoc cref="DecoderModel.Forward"/>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var hidden = ForwardHidden(inputIds, attentionMask, positionIds, cache);
        return _lmHead.call(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>The final normed hidden states [batch, seq, hidden] (apply <see cref="LmHead"/> yourself, e.g. in chunks for the loss).</summary>
    public Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null) =>
        _model.Forward(inputIds, attentionMask, positionIds, cache);

    /// <summary>
    /// Replaces every decoder projection whose full HF name (e.g. "model.layers.3.self_attn.q_proj") passes
    /// <paramref name="select"/> with <c>wrap(name, current)</c>.
    /// </summary>
    public void ReplaceProjections(Func<string, bool> select, Func<string, nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>> wrap)
    {
        for (int i = 0; i < Layers.Count; i++)
        {
            foreach (string path in DecoderLayer.ProjectionPaths)
            {
                string fullName = $"model.layers.{i}.{path}";
                if (select(fullName))
                {
                    Layers[i].ReplaceProjection(path, current => wrap(fullName, current));
                }
            }
        }
    }

    /// <summary>
    /// The tensors to save in HF layout: the state_dict without <c>lm_head.weight</c> when it is tied (as
    /// <c>save_pretrained</c> does). Tensors belong to the model.
    /// </summary>
    public IEnumerable<(string Name, Tensor Tensor)> CheckpointTensors() =>
        state_dict().Where(kv => !(Config.TieWordEmbeddings && kv.Key == "lm_head.weight")).Select(kv => (kv.Key, kv.Value));

    /// <summary>Saves config.json and the weights (sharded above <paramref name="maxShardBytes"/>) into <paramref name="directory"/>.</summary>
    public void SavePretrained(string directory, long maxShardBytes = 5L << 30)
    {
        Directory.CreateDirectory(directory);
        ShardedSafetensorsWriter.Write(directory, CheckpointTensors(), maxShardBytes);
        (Config with { TorchDtype = DTypeName(DType) }).Save(directory);
    }

    /// <summary>The HF name of a dtype ("bfloat16", "float16", "float32").</summary>
    public static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses "bf16"/"bfloat16", "fp16"/"float16"/"half", "fp32"/"float32"/"float".</summary>
    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "f16" or "float16" or "half" => ScalarType.Float16,
        "fp32" or "f32" or "float32" or "float" => ScalarType.Float32,
        _ => throw new SharpTuneException($"unknown dtype '{name}' (use bf16, fp16 or fp32)"),
    };

    /// <summary>Wraps a fresh tensor as a frozen parameter (TorchSharp moves the tensor's handle into it).</summary>
    internal static Parameter AsParameter(Tensor weight)
    {
        var parameter = new Parameter(weight, requires_grad: false);
        parameter.DetachFromDisposeScope();
        return parameter;
    }

    private static void CheckDType(ScalarType dtype)
    {
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float32))
        {
            throw new SharpTuneException($"models run in bf16, fp16 or fp32, not {dtype}");
        }
    }
}
