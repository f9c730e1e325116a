using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// Rotary position embedding (RoPE) in the Hugging Face layout (halves rotated, not interleaved pairs). The
/// inverse frequencies are computed once in float32 with the same operations as transformers (including the
/// Llama 3.1 "llama3" rescaling); cos/sin are computed per call in float32 and cast to the activations' dtype.
/// Holds no parameters, so it adds nothing to the state_dict (HF's <c>inv_freq</c> is a non-persistent buffer).
/// </summary>
public sealed class RotaryEmbedding
{
    public RotaryEmbedding(int headDim, RopeScaling rope)
    {
        HeadDim = headDim;
        Rope = rope;
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, ScalarType.Int64).to(ScalarType.Float32) / headDim;
        var invFreq = 1.0f / pow(tensor((float)rope.Theta), exponents);
        if (rope.Type == RopeScaling.Llama3)
        {
            invFreq = Llama3Rescale(invFreq, rope);
        }

        InverseFrequencies = invFreq.data<float>().ToArray();
    }

    public int HeadDim { get; }

    public RopeScaling Rope { get; }

    /// <summary>The <c>inv_freq</c> vector (head_dim / 2 values).</summary>
    public IReadOnlyList<float> InverseFrequencies { get; }

    /// <summary>cos and sin of shape [batch, seq, head_dim] for integer <paramref name="positionIds"/> [batch, seq].</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var invFreq = tensor(InverseFrequencies.ToArray(), ScalarType.Float32, positionIds.device);
        var freqs = positionIds.to(ScalarType.Float32).unsqueeze(-1) * invFreq;
        var angles = cat([freqs, freqs], -1);
        var cos = angles.cos().to(dtype);
        var sin = angles.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to q or k of shape [batch, heads, seq, head_dim]; cos/sin are [batch, seq, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (SharpTune.Kernels.FusedKernels.AppliesTo(x))
        {
            return SharpTune.Kernels.Rope.FusedRope.Apply(x, cos, sin);
        }

        using var scope = NewDisposeScope();
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([-x2, x1], -1);
        return (x * c + rotated * s).MoveToOuterDisposeScope();
    }

    private static Tensor Llama3Rescale(Tensor invFreq, RopeScaling rope)
    {
        double lowFreqWavelen = rope.OriginalMaxPositionEmbeddings / rope.LowFreqFactor;
        double highFreqWavelen = rope.OriginalMaxPositionEmbeddings / rope.HighFreqFactor;
        var wavelen = 2 * Math.PI / invFreq;
        var scaled = where(wavelen > lowFreqWavelen, invFreq / rope.Factor, invFreq);
        var smooth = (rope.OriginalMaxPositionEmbeddings / wavelen - rope.LowFreqFactor) / (rope.HighFreqFactor - rope.LowFreqFactor);
        var smoothed = (1 - smooth) * scaled / rope.Factor + smooth * scaled;
        var medium = (wavelen < highFreqWavelen).logical_not().logical_and((wavelen > lowFreqWavelen).logical_not());
        return where(medium, smoothed, scaled);
    }
}
