using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// Reusable page-locked (pinned) host buffers, one per element type, grown to the largest tensor seen: tensors
/// bound for a GPU are copied from the memory mapping into one of them and from there to the device at full
/// transfer speed, instead of through a fresh pageable allocation per tensor. Where pinning is unavailable (a
/// CPU-only libtorch), <see cref="Rent"/> returns null and callers take the plain path.
/// </summary>
internal sealed class PinnedStaging : IDisposable
{
    private readonly Dictionary<ScalarType, Tensor> _buffers = [];
    private bool _unavailable;

    /// <summary>A 1-D view of <paramref name="elements"/> pinned elements (dispose the view, not the buffer), or null.</summary>
    public Tensor? Rent(ScalarType dtype, long elements)
    {
        if (_unavailable || elements == 0)
        {
            return null;
        }

        if (!_buffers.TryGetValue(dtype, out var buffer) || buffer.NumberOfElements < elements)
        {
            buffer?.Dispose();
            _buffers.Remove(dtype);
            try
            {
                using var pageable = empty(elements, dtype, CPU);
                buffer = pageable.pin_memory().DetachFromDisposeScope();
            }
            catch (Exception)
            {
                _unavailable = true;
                return null;
            }

            _buffers[dtype] = buffer;
        }

        return buffer.narrow(0, 0, elements);
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values)
        {
            buffer.Dispose();
        }

        _buffers.Clear();
    }
}
