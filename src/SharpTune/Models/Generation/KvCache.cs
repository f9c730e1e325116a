using static TorchSharp.torch;

namespace SharpTune.Models.Generation;

/// <summary>
/// Keys and values of every layer for the tokens seen so far, preallocated for <see cref="Capacity"/> tokens:
/// [batch, kv_heads, capacity, head_dim] per layer. Layers append in order during a forward pass; the sequence
/// length advances once the last layer has appended.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly int[] _lengths;

    public KvCache(int layers, int capacity)
    {
        Capacity = capacity;
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _lengths = new int[layers];
    }

    public int Capacity { get; }

    /// <summary>Tokens cached (by the first layer; all layers agree between forward passes).</summary>
    public int Length => _lengths[0];

    /// <summary>Stores this step's keys/values [batch, kv_heads, new, head_dim] and returns all of them so far (views into the cache).</summary>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor keys, Tensor values)
    {
        long added = keys.shape[2];
        int start = _lengths[layer];
        if (start + added > Capacity)
        {
            throw new InvalidOperationException($"KV cache of {Capacity} tokens is full ({start} cached, {added} more)");
        }

        if (_keys[layer] is null)
        {
            long[] shape = [keys.shape[0], keys.shape[1], Capacity, keys.shape[3]];
            _keys[layer] = zeros(shape, keys.dtype, keys.device).DetachFromDisposeScope();
            _values[layer] = zeros(shape, values.dtype, values.device).DetachFromDisposeScope();
        }

        using (var slot = _keys[layer]!.narrow(2, start, added))
        {
            slot.copy_(keys);
        }

        using (var slot = _values[layer]!.narrow(2, start, added))
        {
            slot.copy_(values);
        }

        _lengths[layer] = start + (int)added;
        return (_keys[layer]!.narrow(2, 0, _lengths[layer]), _values[layer]!.narrow(2, 0, _lengths[layer]));
    }

    public void Dispose()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = _values[i] = null;
        }
    }
}
