using SharpTune.Models.Generation;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// Multi-head causal self-attention with grouped-query heads (HF <c>self_attn</c>): project to q, k, v; Qwen3's
/// per-head RMSNorm on q and k; rotary embedding; append to the KV cache; scaled dot-product attention (SDPA);
/// output projection. The four projections are replaceable modules (LoRA, NF4).
/// </summary>
public sealed class SelfAttention : nn.Module
{
    public static readonly string[] ProjectionNames = ["q_proj", "k_proj", "v_proj", "o_proj"];

    [ComponentName(Name = "q_proj")]
    private nn.Module<Tensor, Tensor> _qProj;

    [ComponentName(Name = "k_proj")]
    private nn.Module<Tensor, Tensor> _kProj;

    [ComponentName(Name = "v_proj")]
    private nn.Module<Tensor, Tensor> _vProj;

    [ComponentName(Name = "o_proj")]
    private nn.Module<Tensor, Tensor> _oProj;

    [ComponentName(Name = "q_norm")]
    private readonly RmsNorm? _qNorm;

    [ComponentName(Name = "k_norm")]
    private readonly RmsNorm? _kNorm;

    public SelfAttention(ModelConfig config, int layerIndex, ScalarType dtype)
        : base(nameof(SelfAttention))
    {
        LayerIndex = layerIndex;
        NumHeads = config.NumAttentionHeads;
        NumKeyValueHeads = config.NumKeyValueHeads;
        HeadDim = config.HeadDim;
        _qProj = LinearWeights.Placeholder(config.HiddenSize, NumHeads * HeadDim, config.QkvBias, dtype);
        _kProj = LinearWeights.Placeholder(config.HiddenSize, NumKeyValueHeads * HeadDim, config.QkvBias, dtype);
        _vProj = LinearWeights.Placeholder(config.HiddenSize, NumKeyValueHeads * HeadDim, config.QkvBias, dtype);
        _oProj = LinearWeights.Placeholder(NumHeads * HeadDim, config.HiddenSize, config.OutputBias, dtype);
        if (config.QkNorm)
        {
            var meta = new Device(TorchSharp.DeviceType.META);
            _qNorm = new RmsNorm(HeadDim, config.RmsNormEps, meta, dtype);
            _kNorm = new RmsNorm(HeadDim, config.RmsNormEps, meta, dtype);
        }

        RegisterComponents();
    }

    public int LayerIndex { get; }

    public int NumHeads { get; }

    public int NumKeyValueHeads { get; }

    public int HeadDim { get; }

    public nn.Module<Tensor, Tensor> QProj => _qProj;

    public nn.Module<Tensor, Tensor> KProj => _kProj;

    public nn.Module<Tensor, Tensor> VProj => _vProj;

    public nn.Module<Tensor, Tensor> OProj => _oProj;

    public RmsNorm? QNorm => _qNorm;

    public RmsNorm? KNorm => _kNorm;

    /// <summary>
    /// Attention over <paramref name="hidden"/> [batch, seq, hidden]. <paramref name="mask"/> is a boolean
    /// [batch, 1, seq, keys] (true = may attend) or null for plain causal attention over this call's tokens.
    /// </summary>
    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0];
        long seq = hidden.shape[1];
        var q = _qProj.call(hidden).view(batch, seq, NumHeads, HeadDim);
        var k = _kProj.call(hidden).view(batch, seq, NumKeyValueHeads, HeadDim);
        var v = _vProj.call(hidden).view(batch, seq, NumKeyValueHeads, HeadDim);
        if (_qNorm is not null)
        {
            q = _qNorm.call(q);
            k = _kNorm!.call(k);
        }

        q = RotaryEmbedding.Apply(q.transpose(1, 2), cos, sin);
        k = RotaryEmbedding.Apply(k.transpose(1, 2), cos, sin);
        v = v.transpose(1, 2);
        if (cache is not null)
        {
            (k, v) = cache.Update(LayerIndex, k, v);
        }

        int groups = NumHeads / NumKeyValueHeads;
        if (groups > 1)
        {
            k = k.repeat_interleave(groups, dim: 1);
            v = v.repeat_interleave(groups, dim: 1);
        }

        var attended = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, mask is null && seq > 1);
        var merged = attended.transpose(1, 2).reshape(batch, seq, NumHeads * HeadDim);
        return _oProj.call(merged).MoveToOuterDisposeScope();
    }

    /// <summary>Replaces the projection named <paramref name="hfName"/> ("q_proj", ...) with <c>wrap(current)</c>.</summary>
    public void ReplaceProjection(string hfName, Func<nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>> wrap)
    {
        var current = Projection(hfName);
        var replacement = wrap(current);
        register_module(hfName, null!);
        switch (hfName)
        {
            case "q_proj": _qProj = replacement; break;
            case "k_proj": _kProj = replacement; break;
            case "v_proj": _vProj = replacement; break;
            default: _oProj = replacement; break;
        }

        register_module(hfName, replacement);
    }

    public nn.Module<Tensor, Tensor> Projection(string hfName) => hfName switch
    {
        "q_proj" => _qProj,
        "k_proj" => _kProj,
        "v_proj" => _vProj,
        "o_proj" => _oProj,
        _ => throw new ArgumentException($"self_attn has no projection '{hfName}' (it has {string.Join(", ", ProjectionNames)})", nameof(hfName)),
    };

    internal void LoadFrom(WeightSource source, string prefix)
    {
        foreach (string name in ProjectionNames)
        {
            LinearWeights.Load((Linear)Projection(name), source, $"{prefix}{name}.");
        }

        _qNorm?.LoadFrom(source, prefix + "q_norm.");
        _kNorm?.LoadFrom(source, prefix + "k_norm.");
    }
}
