using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Sends the outputs of a checkpointed layer's MLP gate and up projections (the layer's two largest GEMMs, which its
/// recompute would otherwise run again) to host memory during the forward pass, and brings them back for the layer's
/// backward, where the recompute then skips those GEMMs (<c>offload_mlp_layers</c>). The copies run while the GPU
/// computes (<see cref="CudaHostActivationCopy"/>): when an offloading layer's backward begins, its own outputs are
/// fetched if they are not on their way yet, and so are those of the offloading layer backward reaches next (the next
/// layer down when every layer offloads; it then holds its 235 MB of device memory from that moment). What comes back
/// is bit for bit what the recompute would have made, so gradients do not change.
/// <para>
/// Which layers: <see cref="Layers"/> of the checkpointed ones, spread evenly from the first (which has the longest
/// time to come back) and leaving out the last ones first (whose backward comes right after the forward pass). The
/// copies cost no GPU time but go over the host link, which is what limits them: at Llama-3-8B, 2 x 2048 tokens, one
/// layer's gate and up are 235 MB, about what the link carries while an H200 computes a layer's forward. Sending the
/// attention projections' outputs as well (319 MB per layer) was measured slower at 24 and 32 layers: the forward
/// pass waited for the link (docs/perf-notes.md).
/// </para>
/// One per trainer; each micro-batch's forward records regions, its backward receives them.
/// </summary>
public sealed class ActivationOffload : IDisposable
{
    private readonly HostActivationCopy _copy;
    private readonly List<ActivationOffloadRegion> _recorded = [];
    private readonly Lock _lock = new();
    private long _bytesSent;

    public ActivationOffload(HostActivationCopy copy, int layers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        _copy = copy;
        Layers = layers;
    }

    /// <summary>How many checkpointed layers offload (at most all of them).</summary>
    public int Layers { get; }

    /// <summary>Bytes sent to host memory in the last forward pass (counted when its micro-batch ends).</summary>
    public long BytesSentLastForward { get; private set; }

    /// <summary>
    /// One line on what a forward pass sent (<paramref name="bytesSent"/>), or why it sent nothing: no layer was
    /// checkpointed (<paramref name="anyLayerCheckpointed"/> false: checkpoint_layers auto kept them all), or the layers
    /// are not the fused LoRA MLP.
    /// </summary>
    public static string Describe(int layers, long bytesSent, bool anyLayerCheckpointed = true) =>
        bytesSent > 0 ? $"offload_mlp_layers {layers}: a micro-batch sent {Runtime.Nvml.GpuMemoryMeter.Format(bytesSent)} of MLP activations to pinned host memory"
        : !anyLayerCheckpointed ? $"offload_mlp_layers {layers}: nothing was offloaded (checkpoint_layers auto kept every layer's activations, so no layer is recomputed)"
        : $"offload_mlp_layers {layers}: nothing was offloaded (it needs the fused LoRA MLP: CUDA kernels on, all three MLP projections adapted, no LoRA dropout)";

    /// <summary>The copier for <paramref name="device"/>: a CUDA side stream, or plain copies elsewhere.</summary>
    public static ActivationOffload For(Device device, int layers) =>
        new(device.type == DeviceType.CUDA ? new CudaHostActivationCopy(device) : new SynchronousHostActivationCopy(device), layers);

    /// <summary>
    /// Whether checkpointed layer i = <paramref name="layer"/> (0-based) of n = <paramref name="checkpointed"/> offloads
    /// when k = <paramref name="offloaded"/> of them do: ceil((i + 1) k / n) &gt; ceil(i k / n), which picks exactly
    /// min(k, n) layers spread evenly, layer 0 first and the last layer only when every layer offloads.
    /// </summary>
    public static bool Offloads(int layer, int checkpointed, int offloaded)
    {
        if (layer < 0 || layer >= checkpointed || offloaded <= 0)
        {
            return false;
        }

        long n = checkpointed, k = Math.Min(offloaded, checkpointed);
        return CeilDiv((layer + 1) * k, n) > CeilDiv(layer * k, n);

        static long CeilDiv(long a, long b) => (a + b - 1) / b;
    }

    /// <summary>A region for checkpointed layer <paramref name="layer"/> of <paramref name="checkpointed"/> if it offloads, else null.</summary>
    public ActivationOffloadRegion? RegionFor(int layer, int checkpointed) =>
        Offloads(layer, checkpointed, Layers) ? new ActivationOffloadRegion(this, _copy) : null;

    /// <summary>
    /// Ends a micro-batch: regions whose backward never ran give up their activations, and the bytes sent are
    /// counted in <see cref="BytesSentLastForward"/>.
    /// </summary>
    public void EndMicroBatch()
    {
        ActivationOffloadRegion[] left;
        lock (_lock)
        {
            left = [.. _recorded];
            _recorded.Clear();
            BytesSentLastForward = _bytesSent;
            _bytesSent = 0;
        }

        foreach (var region in left)
        {
            region.Release();
        }

        _copy.ReleaseFinished();
    }

    /// <summary>
    /// Waits for the copies, then gives back the pinned host memory no activation uses now: after the number of
    /// offloading layers went down (checkpoint_layers auto), the buffers the first step pinned are not kept for nothing.
    /// </summary>
    public void ReleaseIdleHostMemory() => _copy.ReleaseIdleMemory();

    public void Dispose()
    {
        EndMicroBatch();
        _copy.Dispose();
    }

    internal void Recorded(ActivationOffloadRegion region, long bytes)
    {
        lock (_lock)
        {
            _recorded.Add(region);
            _bytesSent += bytes;
        }
    }

    /// <summary>
    /// <paramref name="region"/>'s backward begins: its activations are fetched if they are not on their way, and so
    /// are those of the region recorded before it (the next one backward reaches).
    /// </summary>
    internal void BeginBackward(ActivationOffloadRegion region)
    {
        ActivationOffloadRegion? next;
        lock (_lock)
        {
            int at = _recorded.IndexOf(region);
            if (at < 0)
            {
                return;
            }

            _recorded.RemoveAt(at);
            next = at > 0 ? _recorded[at - 1] : null;
        }

        region.Fetch();
        next?.Fetch();
    }

    internal void Forget(ActivationOffloadRegion region)
    {
        lock (_lock)
        {
            _recorded.Remove(region);
        }
    }
}
