using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// Device copies of quantization maps (the values, and the midpoints between neighbours that
/// <see cref="torch.bucketize"/> rounds with), made once per map and device and kept for the process. Building them
/// from host arrays at every use costs a synchronous host-to-device copy each time: the 8-bit optimizer did two per
/// moment per tensor per step.
/// </summary>
internal static class MapTables
{
    private static readonly ConditionalWeakTable<IReadOnlyList<float>, ConcurrentDictionary<string, Tensor>> Tables = [];

    /// <summary>The map's values as float32 on <paramref name="device"/>; shared, do not modify or dispose.</summary>
    public static Tensor Values(IReadOnlyList<float> map, Device device) => Get(map, device, "values", () => [.. map]);

    /// <summary>The midpoints between neighbouring map values as float32 on <paramref name="device"/>; shared.</summary>
    public static Tensor Midpoints(IReadOnlyList<float> map, Device device) =>
        Get(map, device, "midpoints", () => DynamicQuantizationMap.Midpoints(map));

    private static Tensor Get(IReadOnlyList<float> map, Device device, string kind, Func<float[]> values) =>
        Tables.GetOrCreateValue(map).GetOrAdd($"{kind}@{device}", _ =>
        {
            using var noGrad = no_grad();
            return tensor(values(), device: device).DetachFromDisposeScope();
        });
}
