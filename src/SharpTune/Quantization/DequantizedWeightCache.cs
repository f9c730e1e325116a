using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// Keeps the 16-bit weights that a checkpointed layer's recompute dequantized until that layer's backward uses them,
/// so each NF4 weight is dequantized once per backward instead of twice (recompute, then the input gradient).
/// A cache is open on one thread between <see cref="Open"/> and its disposal (the checkpointed region's backward:
/// recompute and the nested backward run on the same thread); elsewhere <see cref="ForForward"/> and
/// <see cref="ForBackward"/> just dequantize. The cost is the region's dequantized weights held at once (at 8B: the
/// 16-bit q, k, v, o, gate and up projections of one layer, ~320 MB) instead of one at a time.
/// </summary>
public sealed class DequantizedWeightCache : IDisposable
{
    [ThreadStatic]
    private static DequantizedWeightCache? _current;

    [ThreadStatic]
    private static long _reused;

    private readonly Dictionary<Nf4Tensor, Tensor> _weights = new(ReferenceEqualityComparer.Instance);
    private readonly DequantizedWeightCache? _previous;

    private DequantizedWeightCache(DequantizedWeightCache? previous) => _previous = previous;

    /// <summary>Dequantizations saved so far on this thread (a weight kept by a recompute and used by its backward).</summary>
    public static long ReusedOnThisThread => _reused;

    /// <summary>Opens a cache on this thread until the returned object is disposed (which frees what was not used).</summary>
    public static DequantizedWeightCache Open() => _current = new DequantizedWeightCache(_current);

    /// <summary>
    /// <paramref name="weight"/> dequantized to <paramref name="dtype"/>, a new tensor in the current dispose scope; when a
    /// cache is open on this thread it also keeps the tensor for <see cref="ForBackward"/>.
    /// </summary>
    public static Tensor ForForward(Nf4Tensor weight, ScalarType dtype)
    {
        var dequantized = weight.Dequantize(dtype);
        if (_current is { } cache && !cache._weights.ContainsKey(weight))
        {
            cache._weights[weight] = dequantized.alias().DetachFromDisposeScope();
        }

        return dequantized;
    }

    /// <summary>
    /// <paramref name="weight"/> in <paramref name="dtype"/> for a backward GEMM: the tensor the open cache kept (taken out
    /// of it, so disposing it frees the memory) or a new dequantization. The caller disposes it.
    /// </summary>
    public static Tensor ForBackward(Nf4Tensor weight, ScalarType dtype)
    {
        if (_current is { } cache && cache._weights.Remove(weight, out var kept))
        {
            if (kept.dtype == dtype)
            {
                _reused++;
                return kept;
            }

            kept.Dispose();
        }

        return weight.Dequantize(dtype);
    }

    public void Dispose()
    {
        foreach (var tensor in _weights.Values)
        {
            tensor.Dispose();
        }

        _weights.Clear();
        if (ReferenceEquals(_current, this))
        {
            _current = _previous;
        }
    }
}
