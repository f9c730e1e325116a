using SharpTune.Models.Generation;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// One pre-norm transformer block (HF <c>model.layers.N</c>):
/// <c>h = x + self_attn(input_layernorm(x)); out = h + mlp(post_attention_layernorm(h))</c>.
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    [ComponentName(Name = "self_attn")]
    private readonly SelfAttention _selfAttention;

    [ComponentName(Name = "mlp")]
    private readonly Mlp _mlp;

    [ComponentName(Name = "input_layernorm")]
    private readonly RmsNorm _inputLayerNorm;

    [ComponentName(Name = "post_attention_layernorm")]
    private readonly RmsNorm _postAttentionLayerNorm;

    public DecoderLayer(ModelConfig config, int layerIndex, ScalarType dtype)
        : base(nameof(DecoderLayer))
    {
        var meta = new Device(TorchSharp.DeviceType.META);
        LayerIndex = layerIndex;
        _selfAttention = new SelfAttention(config, layerIndex, dtype);
        _mlp = new Mlp(config, dtype);
        _inputLayerNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, meta, dtype);
        _postAttentionLayerNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, meta, dtype);
        RegisterComponents();
    }

    public int LayerIndex { get; }

    public SelfAttention SelfAttention => _selfAttention;

    public Mlp Mlp => _mlp;

    public RmsNorm InputLayerNorm => _inputLayerNorm;

    public RmsNorm PostAttentionLayerNorm => _postAttentionLayerNorm;

    /// <summary>All seven projection names, as in HF keys relative to the layer ("self_attn.q_proj", ..., "mlp.down_proj").</summary>
    public static IReadOnlyList<string> ProjectionPaths { get; } =
        [.. SelfAttention.ProjectionNames.Select(n => "self_attn." + n), .. Mlp.ProjectionNames.Select(n => "mlp." + n)];

    /// <summary>
    /// The block over <paramref name="hidden"/> (see <see cref="SelfAttention.Forward"/> for the other arguments). With
    /// <paramref name="outputValueNeeded"/> false (a checkpointed layer recomputed for its backward, which needs the
    /// graph, not the output's value) the MLP may skip its last projection; the output's value is then not the layer's.
    /// </summary>
    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, bool outputValueNeeded = true)
    {
        using var scope = NewDisposeScope();
        var attended = hidden + _selfAttention.Forward(_inputLayerNorm.call(hidden), cos, sin, mask, cache);
        var output = attended + _mlp.Forward(_postAttentionLayerNorm.call(attended), outputValueNeeded);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The projection called <paramref name="hfName"/>: "q_proj".."o_proj", "gate_proj".."down_proj", optionally prefixed "self_attn."/"mlp.".</summary>
    public nn.Module<Tensor, Tensor> Projection(string hfName)
    {
        string name = ShortName(hfName);
        return SelfAttention.ProjectionNames.Contains(name) ? _selfAttention.Projection(name) : _mlp.Projection(name);
    }

    /// <summary>
    /// Replaces a projection with <c>wrap(current)</c> (LoRA, NF4). The replacement is registered under the same
    /// name, so state_dict keys become e.g. <c>model.layers.0.self_attn.q_proj.{whatever the wrapper registers}</c>.
    /// </summary>
    public void ReplaceProjection(string hfName, Func<nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>> wrap)
    {
        string name = ShortName(hfName);
        if (SelfAttention.ProjectionNames.Contains(name))
        {
            _selfAttention.ReplaceProjection(name, wrap);
        }
        else
        {
            _mlp.ReplaceProjection(name, wrap);
        }
    }

    internal void LoadFrom(WeightSource source, string prefix)
    {
        _selfAttention.LoadFrom(source, prefix + "self_attn.");
        _mlp.LoadFrom(source, prefix + "mlp.");
        _inputLayerNorm.LoadFrom(source, prefix + "input_layernorm.");
        _postAttentionLayerNorm.LoadFrom(source, prefix + "post_attention_layernorm.");
    }

    private static string ShortName(string hfName)
    {
        string name = hfName.StartsWith("self_attn.", StringComparison.Ordinal) ? hfName["self_attn.".Length..]
            : hfName.StartsWith("mlp.", StringComparison.Ordinal) ? hfName["mlp.".Length..]
            : hfName;
        if (!SelfAttention.ProjectionNames.Contains(name) && !Mlp.ProjectionNames.Contains(name))
        {
            throw new ArgumentException($"a decoder layer has no projection '{hfName}' (it has {string.Join(", ", ProjectionPaths)})", nameof(hfName));
        }

        return name;
    }
}
