namespace SharpTune.Kernels.Cuda;

/// <summary>
/// Reused <see cref="PinnedHostMemory"/> buffers for the copies of one <see cref="CudaCopyStream"/> (pinning memory
/// is slow, so a buffer serves one copy after another). A request takes the smallest idle buffer that is large enough;
/// only when none is does it pin a new one (its size rounded up to an eighth of a power of two, so nearby sizes share
/// buffers), and then it first frees the largest idle buffer (all are too small): with micro-batches of varying length
/// the pool grows to the longest one's buffers instead of keeping one set per length. Only the stream's own copies use the
/// buffers, in its order, so a buffer is idle as soon as its last copy is queued; before one is freed, the host waits
/// for that copy.
/// </summary>
internal sealed class PinnedBufferPool(CudaCopyStream stream) : IDisposable
{
    private const long Granule = 2L << 20;
    private readonly List<(PinnedHostMemory Buffer, CudaEvent LastCopy)> _idle = [];
    private long _pinned;

    /// <summary>Host memory pinned by this pool, idle or in use.</summary>
    public long PinnedBytes => _pinned;

    /// <summary>A buffer of at least <paramref name="bytes"/>, idle or new; give it back with <see cref="Return"/>.</summary>
    public PinnedHostMemory Rent(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        int best = -1;
        for (int i = 0; i < _idle.Count; i++)
        {
            if (_idle[i].Buffer.Bytes >= bytes && (best < 0 || _idle[i].Buffer.Bytes < _idle[best].Buffer.Bytes))
            {
                best = i;
            }
        }

        if (best >= 0)
        {
            var (buffer, lastCopy) = _idle[best];
            _idle.RemoveAt(best);
            lastCopy.Dispose(); // the next copy is queued on the same stream, after the last one
            return buffer;
        }

        // Every idle buffer is too small: the largest of them is the one a longer micro-batch has replaced.
        int largest = -1;
        for (int i = 0; i < _idle.Count; i++)
        {
            if (largest < 0 || _idle[i].Buffer.Bytes > _idle[largest].Buffer.Bytes)
            {
                largest = i;
            }
        }

        if (largest >= 0)
        {
            Free(largest);
        }

        var pinned = PinnedHostMemory.Allocate(RoundUp(bytes), stream.Device);
        _pinned += pinned.Bytes;
        return pinned;
    }

    /// <summary>Gives <paramref name="buffer"/> back once its last copy is queued on the stream.</summary>
    public void Return(PinnedHostMemory buffer) => _idle.Add((buffer, stream.Record()));

    /// <summary>The size a request of <paramref name="bytes"/> pins: a multiple of 2 MiB and of an eighth of the largest power of two not above it.</summary>
    public static long RoundUp(long bytes)
    {
        long step = Math.Max(Granule, (1L << (int)(63 - long.LeadingZeroCount(bytes))) / 8);
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Frees the idle buffers, each once its last copy has finished.</summary>
    public void FreeIdle()
    {
        while (_idle.Count > 0)
        {
            Free(_idle.Count - 1);
        }
    }

    /// <summary>Frees the idle buffers (<see cref="FreeIdle"/>); the pool's user returns every buffer first.</summary>
    public void Dispose() => FreeIdle();

    private void Free(int index)
    {
        var (buffer, lastCopy) = _idle[index];
        _idle.RemoveAt(index);
        lastCopy.Synchronize();
        lastCopy.Dispose();
        _pinned -= buffer.Bytes;
        buffer.Dispose();
    }
}
