namespace SharpTune.Gguf;

/// <summary>
/// Llama 3.1's frequency-dependent rope scaling. llama.cpp does not read these numbers; it reads the per-frequency
/// factors that <see cref="Factors"/> computes (as convert_hf_to_gguf.py does) from the <c>rope_freqs</c> tensor.
/// </summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalContextLength)
{
    /// <summary>One divisor per rotated pair: 1 for high frequencies, <see cref="Factor"/> for low, smooth between.</summary>
    public float[] Factors(int headDim, double ropeTheta)
    {
        double lowFreqWavelen = OriginalContextLength / LowFreqFactor;
        double highFreqWavelen = OriginalContextLength / HighFreqFactor;
        var factors = new float[headDim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            float freq = 1.0f / MathF.Pow((float)ropeTheta, 2f * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highFreqWavelen)
            {
                factors[i] = 1;
            }
            else if (wavelen > lowFreqWavelen)
            {
                factors[i] = (float)Factor;
            }
            else
            {
                double smooth = (OriginalContextLength / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
                factors[i] = (float)(1 / ((1 - smooth) / Factor + smooth));
            }
        }

        return factors;
    }
}
