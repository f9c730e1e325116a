using SharpTune.Kernels.MultiTensor;
using static TorchSharp.torch;

namespace SharpTune.Kernels.AdamW;

/// <summary>
/// One AdamW step over many parameters as one <see cref="MultiTensorAdamWKernel"/> launch per
/// <see cref="MultiTensorAdamWGroup"/>, bit-identical to one <see cref="FusedAdamW"/> launch per parameter. It applies
/// only when every update can take the kernel (<see cref="Applies"/>); otherwise <see cref="TryUpdate"/> touches
/// nothing and the caller runs its per-tensor path. Each group's table of addresses stays on the device and is uploaded
/// again only when an address changes (a gradient replaced by a new tensor, say); that upload is a blocking copy from
/// host memory, the only point where the host waits for the GPU (in training: the first step).
/// </summary>
public sealed class MultiTensorAdamW : IDisposable
{
    private const uint Threads = MultiTensorTable.BlockSize;

    private readonly Dictionary<MultiTensorAdamWGroup, DeviceTableCache> _tables = [];

    /// <summary>Table uploads so far, over all groups.</summary>
    public int TableUploads => _tables.Values.Sum(table => table.Uploads);

    /// <summary>
    /// True when <see cref="TryUpdate"/> launches: at least one update, every one <see cref="MultiTensorAdamWUpdate.Applies"/>
    /// on one CUDA device, and the gradient scale, if any, a float32 one-element tensor on that device.
    /// </summary>
    public static bool Applies(IReadOnlyList<MultiTensorAdamWUpdate> updates, Tensor? gradientScale)
    {
        if (updates.Count == 0)
        {
            return false;
        }

        int device = updates[0].Parameter.device_index;
        return updates.All(u => u.Applies && u.Parameter.device_index == device)
            && (gradientScale is null
                || (FusedKernels.AppliesTo(gradientScale) && gradientScale.device_index == device && gradientScale.dtype == ScalarType.Float32
                    && gradientScale.numel() == 1 && gradientScale.is_contiguous()));
    }

    /// <summary>
    /// Updates every parameter of <paramref name="updates"/> and its moments in place, each gradient multiplied by
    /// <paramref name="gradientScale"/> (read on the device) when given, and zeroed after it is read when
    /// <paramref name="zeroGradients"/>. False, touching nothing, where <see cref="Applies"/> is false.
    /// </summary>
    public bool TryUpdate(IReadOnlyList<MultiTensorAdamWUpdate> updates, AdamWStep step, Tensor? gradientScale, bool zeroGradients)
    {
        if (!Applies(updates, gradientScale))
        {
            return false;
        }

        var device = updates[0].Parameter.device;
        var module = FusedKernels.Module(MultiTensorAdamWKernel.Name, () => MultiTensorAdamWKernel.Source, device.index);
        nint scale = gradientScale is null ? 0 : TensorPointer.Of(gradientScale);
        var scalars = FusedAdamW.KernelScalars(step);
        foreach (var group in updates.GroupBy(u => u.Group))
        {
            var table = new MultiTensorTable(group.Select(u => u.Row));
            if (table.Tensors == 0)
            {
                continue;
            }

            if (!_tables.TryGetValue(group.Key, out var cache))
            {
                _tables[group.Key] = cache = new DeviceTableCache();
            }

            var entries = cache.For(table, device);
            var grid = ((uint)Math.Min(table.TotalBlocks, int.MaxValue), 1u, 1u);
            module.Launch(group.Key.KernelName, grid, (Threads, 1, 1), 0,
                [TensorPointer.Of(entries), table.Tensors, table.TotalBlocks, scale, zeroGradients ? 1 : 0, .. scalars]);
        }

        return true;
    }

    public void Dispose()
    {
        foreach (var table in _tables.Values)
        {
            table.Dispose();
        }

        _tables.Clear();
    }
}
