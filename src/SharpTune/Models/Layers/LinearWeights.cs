using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>Creates the engine's projections (TorchSharp <see cref="Linear"/>, HF-shaped) and fills their weights.</summary>
public static class LinearWeights
{
    /// <summary>A Linear whose parameters live on the meta device (no memory, no init) until <see cref="Load"/>.</summary>
    public static Linear Placeholder(long inFeatures, long outFeatures, bool bias, ScalarType dtype) =>
        nn.Linear(inFeatures, outFeatures, hasBias: bias, device: new Device(TorchSharp.DeviceType.META), dtype: dtype);

    /// <summary>Sets <c>{prefix}weight</c> (and <c>{prefix}bias</c>) of <paramref name="linear"/> from <paramref name="source"/>.</summary>
    public static void Load(Linear linear, WeightSource source, string prefix)
    {
        var weightShape = linear.weight!.shape;
        var oldWeight = linear.weight;
        linear.weight = source(prefix + "weight", weightShape, WeightRole.Matrix);
        oldWeight.Dispose();
        if (linear.bias is { } oldBias)
        {
            linear.bias = source(prefix + "bias", oldBias.shape, WeightRole.Bias);
            oldBias.Dispose();
        }
    }
}
