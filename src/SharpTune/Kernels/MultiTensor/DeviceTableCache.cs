using static TorchSharp.torch;

namespace SharpTune.Kernels.MultiTensor;

/// <summary>
/// A <see cref="MultiTensorTable"/>'s entries in device memory (an int64 tensor), uploaded again only when they change:
/// the host copy of the last upload is compared with each new table. Parameters, moments and (zeroed in place)
/// gradients keep their storage from step to step, so after the first steps a launch uploads nothing.
/// </summary>
public sealed class DeviceTableCache : IDisposable
{
    private long[]? _uploaded;
    private Tensor? _device;

    /// <summary>Uploads so far.</summary>
    public int Uploads { get; private set; }

    /// <summary>The device copy of <paramref name="table"/>'s entries on <paramref name="device"/>, uploading when they differ from the last.</summary>
    public Tensor For(MultiTensorTable table, Device device)
    {
        if (_device is null || _uploaded is null || _device.device_type != device.type || _device.device_index != device.index
            || !_uploaded.AsSpan().SequenceEqual(table.Entries))
        {
            using var host = tensor(table.Entries);
            var uploaded = host.to(device).DetachFromDisposeScope();
            _device?.Dispose();
            _device = uploaded;
            _uploaded = table.Entries;
            Uploads++;
        }

        return _device;
    }

    public void Dispose()
    {
        _device?.Dispose();
        _device = null;
        _uploaded = null;
    }
}
