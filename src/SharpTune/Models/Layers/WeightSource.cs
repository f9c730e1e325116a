using TorchSharp.Modules;

namespace SharpTune.Models.Layers;

/// <summary>
/// Supplies the parameter called <c>name</c> (a Hugging Face state_dict key) with the given shape: read from a
/// checkpoint, or freshly initialized. The module that asks takes ownership.
/// </summary>
public delegate Parameter WeightSource(string name, long[] shape, WeightRole role);

/// <summary>What a parameter is, so an initializer can pick HF's init for it.</summary>
public enum WeightRole
{
    /// <summary>A projection or embedding matrix (HF init: normal, std = initializer_range).</summary>
    Matrix,

    /// <summary>A bias (HF init: zeros).</summary>
    Bias,

    /// <summary>An RMSNorm scale (HF init: ones).</summary>
    NormScale,
}
