using SharpTune.Models.Generation;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// The decoder stack (HF <c>model</c>): token embedding, the layers, the final RMSNorm. Builds the rotary
/// cos/sin and the attention mask once per forward pass and hands them to every layer.
/// </summary>
public sealed class DecoderModel : nn.Module
{
    [ComponentName(Name = "embed_tokens")]
    private readonly Embedding _embedTokens;

    [ComponentName(Name = "layers")]
    private readonly ModuleList<DecoderLayer> _layers;

    [ComponentName(Name = "norm")]
    private readonly RmsNorm _norm;

    public DecoderModel(ModelConfig config, ScalarType dtype)
        : base(nameof(DecoderModel))
    {
        var meta = new Device(TorchSharp.DeviceType.META);
        Config = config;
        Rotary = new RotaryEmbedding(config.HeadDim, config.Rope);
        _embedTokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: meta, dtype: dtype);
        _layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i, dtype)).ToArray());
        _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, meta, dtype);
        RegisterComponents();
    }

    public ModelConfig Config { get; }

    public RotaryEmbedding Rotary { get; }

    public Embedding EmbedTokens => _embedTokens;

    /// <summary>
    /// The input embeddings of <paramref name="inputIds"/>, on the ids' device. When the table is kept in host memory
    /// (<see cref="CausalLM.KeepEmbeddingOnHost"/>) and the ids are on a GPU, the rows are gathered on the host and
    /// copied over (a pinned, asynchronous copy of tokens x hidden values).
    /// </summary>
    public Tensor Embed(Tensor inputIds)
    {
        // TorchSharp's Embedding hands out a new handle per read of its weight: this one is disposed here.
        using var weight = _embedTokens.weight!;
        if (weight.device.type != DeviceType.CPU || inputIds.device.type == DeviceType.CPU)
        {
            return _embedTokens.call(inputIds);
        }

        using var scope = NewDisposeScope();
        var ids = inputIds.cpu();
        var rows = weight.index_select(0, ids.reshape(-1)).view([.. ids.shape, weight.shape[1]]);
        return rows.pin_memory().to(inputIds.device, non_blocking: true).MoveToOuterDisposeScope();
    }

    public ModuleList<DecoderLayer> Layers => _layers;

    public RmsNorm Norm => _norm;

    /// <summary>
    /// Runs the stack and returns the final normed hidden states [batch, seq, hidden].
    /// </summary>
    /// <param name="inputIds">Token ids [batch, seq] (int64).</param>
    /// <param name="attentionMask">1 for real tokens, 0 for padding, [batch, cached + seq]; null = no padding.</param>
    /// <param name="positionIds">[batch, seq]; default: counted over real tokens from the mask (pads get 1, as HF generate), else cached..cached+seq.</param>
    /// <param name="cache">Keys/values of earlier tokens, appended to; null = no cache.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0];
        long seq = inputIds.shape[1];
        int past = cache?.Length ?? 0;
        var device = inputIds.device;
        if (attentionMask is not null)
        {
            if (attentionMask.shape.Length != 2 || attentionMask.shape[0] != batch || attentionMask.shape[1] != past + seq)
            {
                throw new ArgumentException($"attention mask has shape [{string.Join(", ", attentionMask.shape)}], expected [{batch}, {past + seq}] (cached + new tokens)");
            }

            attentionMask = attentionMask.to(ScalarType.Bool);
        }

        positionIds ??= attentionMask is not null
            ? (attentionMask.to(ScalarType.Int64).cumsum(-1) - 1).masked_fill(attentionMask.logical_not(), 1).narrow(1, past, seq)
            : arange(past, past + seq, ScalarType.Int64, device).unsqueeze(0).expand(batch, seq);

        var hidden = Embed(inputIds);
        var (cos, sin) = Rotary.CosSin(positionIds, hidden.dtype);
        var mask = AttentionMask(attentionMask, past, seq, device);
        foreach (var layer in _layers)
        {
            hidden = layer.Forward(hidden, cos, sin, mask, cache);
        }

        return _norm.call(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The boolean mask [batch or 1, 1, seq, cached + seq] (true = may attend): causal over absolute positions,
    /// within the sliding window if any, only to real tokens. Every query may attend to itself, so rows of padding
    /// queries are never empty (no NaN). Null when plain causal attention over this call's tokens is exact.
    /// </summary>
    private Tensor? AttentionMask(Tensor? attentionMask, int past, long seq, Device device)
    {
        if (attentionMask is not null && attentionMask.all().item<bool>())
        {
            attentionMask = null;
        }

        long keys = past + seq;
        bool windowed = Config.SlidingWindow is { } window && keys > window;
        if (attentionMask is null && !windowed && (past == 0 || seq == 1))
        {
            return null;
        }

        var queryPositions = arange(past, keys, ScalarType.Int64, device).unsqueeze(1);
        var keyPositions = arange(0, keys, ScalarType.Int64, device).unsqueeze(0);
        var allowed = keyPositions <= queryPositions;
        if (windowed)
        {
            allowed = allowed.logical_and((queryPositions - keyPositions) < Config.SlidingWindow!.Value);
        }

        allowed = allowed.unsqueeze(0).unsqueeze(0);
        if (attentionMask is not null)
        {
            allowed = allowed.logical_and(attentionMask.unsqueeze(1).unsqueeze(1));
            allowed = allowed.logical_or((keyPositions == queryPositions).unsqueeze(0).unsqueeze(0));
        }

        return allowed;
    }

    internal void LoadFrom(WeightSource source, string prefix)
    {
        var old = _embedTokens.weight!;
        _embedTokens.weight = source(prefix + "embed_tokens.weight", [Config.VocabSize, Config.HiddenSize], WeightRole.Matrix);
        old.Dispose();
        for (int i = 0; i < _layers.Count; i++)
        {
            _layers[i].LoadFrom(source, $"{prefix}layers.{i}.");
        }

        _norm.LoadFrom(source, prefix + "norm.");
    }
}
