using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace SharpTune.Kernels.MultiTensor;

/// <summary>
/// The global L2 norm of a set of gradients and the clip factor, on the device in two launches
/// (<see cref="MultiTensorNormKernel"/>), without reading anything on the host and without touching the gradients.
/// Applies when kernels are on and every gradient is a contiguous CUDA tensor of one device and one kernel dtype.
/// The table of gradient addresses is cached per device and uploaded again only when a gradient's storage changes.
/// </summary>
public static class MultiTensorGradientNorm
{
    private const uint Threads = MultiTensorTable.BlockSize;

    private static readonly ConcurrentDictionary<int, DeviceTableCache> Tables = new();

    /// <summary>True when <see cref="TryCompute"/> launches the kernels for <paramref name="gradients"/>.</summary>
    public static bool Applies(IReadOnlyList<Tensor> gradients) =>
        gradients.Count > 0 && gradients.All(g => FusedKernels.AppliesTo(g) && g.is_contiguous()
            && g.dtype == gradients[0].dtype && g.device_index == gradients[0].device_index)
        && FusedKernels.DtypeSuffix(gradients[0].dtype) is not null;

    /// <summary>
    /// A float32 tensor [norm, factor] on the gradients' device (owned by the caller's dispose scope), or null, touching
    /// nothing, where the kernels do not apply. The factor is <c>min(1, max_norm / (norm + 1e-6))</c>, 1 when
    /// <paramref name="maxNorm"/> &lt;= 0, NaN when the norm is not finite.
    /// </summary>
    public static Tensor? TryCompute(IReadOnlyList<Tensor> gradients, double maxNorm)
    {
        if (!Applies(gradients))
        {
            return null;
        }

        var device = gradients[0].device;
        var table = new MultiTensorTable(gradients.Select(g => new MultiTensorRow(0, TensorPointer.Of(g), 0, 0, 0, 0, g.numel())));
        if (table.Tensors == 0)
        {
            using var nothing = tensor(new[] { 0f, 1f });
            return nothing.to(device);
        }

        var result = empty([2], ScalarType.Float32, device);

        int grid = (int)Math.Min(table.TotalBlocks, MultiTensorNormKernel.PartialBlocks);
        using var partials = empty([grid], ScalarType.Float32, device);
        var cache = Tables.GetOrAdd(device.index, _ => new DeviceTableCache());
        var module = FusedKernels.Module(MultiTensorNormKernel.Name, () => MultiTensorNormKernel.Source, device.index);
        lock (cache)
        {
            var entries = cache.For(table, device);
            module.Launch(MultiTensorNormKernel.SumOfSquaresKernel(FusedKernels.DtypeSuffix(gradients[0].dtype)!), ((uint)grid, 1, 1), (Threads, 1, 1), 0,
                TensorPointer.Of(entries), table.Tensors, table.TotalBlocks, TensorPointer.Of(partials));
        }

        module.Launch(MultiTensorNormKernel.FinishKernel, (1, 1, 1), (1024, 1, 1), 0,
            TensorPointer.Of(partials), grid, (float)maxNorm, TensorPointer.Of(result));
        return result;
    }
}
