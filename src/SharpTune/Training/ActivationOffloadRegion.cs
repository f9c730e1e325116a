using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// The activations one checkpointed region (a decoder layer) sent to host memory in its forward pass, handed back to
/// the same code in its recompute (<see cref="ActivationOffload"/>). While <see cref="Record"/> is open on a thread,
/// <see cref="Send"/> offloads; while <see cref="Replay"/> is open, <see cref="TryReceive"/> gives them back in the
/// order they were sent. Elsewhere both do nothing, so the code that offloads runs unchanged outside such a region.
/// </summary>
public sealed class ActivationOffloadRegion
{
    [ThreadStatic]
    private static ActivationOffloadRegion? _recording;

    [ThreadStatic]
    private static ActivationOffloadRegion? _replaying;

    private readonly ActivationOffload _owner;
    private readonly HostActivationCopy _copy;
    private readonly List<HostActivation> _sent = [];
    private int _received;

    internal ActivationOffloadRegion(ActivationOffload owner, HostActivationCopy copy)
    {
        _owner = owner;
        _copy = copy;
    }

    /// <summary>Activations sent and not yet received or given up.</summary>
    public int Pending => _sent.Count - _received;

    /// <summary>
    /// Offloads <paramref name="tensors"/> (contiguous) if a region is recording on this thread. The caller keeps its
    /// tensors but must not write to them afterwards: the copy reads them later, on its own stream.
    /// </summary>
    public static void Send(params Tensor[] tensors)
    {
        if (_recording is not { } region)
        {
            return;
        }

        foreach (var tensor in tensors)
        {
            region._sent.Add(region._copy.Send(tensor));
        }
    }

    /// <summary>
    /// The next activations this thread's replaying region sent, one per entry of <paramref name="shapes"/> and checked
    /// against it, as new tensors on the device in the current dispose scope; null if no region is replaying or it has
    /// fewer left.
    /// </summary>
    public static Tensor[]? TryReceive(params long[][] shapes)
    {
        if (_replaying is not { } region || region.Pending < shapes.Length)
        {
            return null;
        }

        var received = new Tensor[shapes.Length];
        for (int i = 0; i < shapes.Length; i++)
        {
            var activation = region._sent[region._received];
            if (!activation.Shape.SequenceEqual(shapes[i]))
            {
                throw new InvalidOperationException(
                    $"offloaded activation {region._received} has shape [{string.Join(", ", activation.Shape)}], the recompute expects [{string.Join(", ", shapes[i])}]");
            }

            received[i] = region._copy.Receive(activation);
            region._received++;
        }

        return received;
    }

    /// <summary>Makes <see cref="Send"/> offload into this region on this thread until disposed (the region's forward).</summary>
    public IDisposable Record()
    {
        var previous = _recording;
        _recording = this;
        return new Restore(() =>
        {
            _recording = previous;
            if (_sent.Count > 0)
            {
                _owner.Recorded(this, _sent.Sum(a => a.Bytes));
            }

            _copy.ReleaseFinished();
        });
    }

    /// <summary>
    /// Makes <see cref="TryReceive"/> take from this region on this thread until disposed (the region's recompute);
    /// fetches what it sent and starts fetching the previous region's. Disposing gives up what was not received.
    /// </summary>
    public IDisposable Replay()
    {
        try
        {
            _owner.BeginBackward(this);
        }
        catch
        {
            Release(); // what was fetched before the failure is given up, not left held
            throw;
        }

        var previous = _replaying;
        _replaying = this;
        return new Restore(() =>
        {
            _replaying = previous;
            Release();
        });
    }

    /// <summary>Starts bringing back what was sent and not received.</summary>
    internal void Fetch()
    {
        for (int i = _received; i < _sent.Count; i++)
        {
            _copy.Fetch(_sent[i]);
        }
    }

    /// <summary>Gives up what was sent and not received (a backward that did not run, or did not use it).</summary>
    public void Release()
    {
        _owner.Forget(this);
        for (; _received < _sent.Count; _received++)
        {
            _copy.Discard(_sent[_received]);
        }
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        private Action? _restore = restore;

        public void Dispose()
        {
            _restore?.Invoke();
            _restore = null;
        }
    }
}
