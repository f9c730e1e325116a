namespace SharpTune.Tests.Gguf;

/// <summary>How far two logit vectors are apart: RMS of the difference relative to the RMS of the reference, and argmax.</summary>
internal sealed record LogitComparison(double RelativeRms, double MaxAbs, bool SameArgmax)
{
    public static LogitComparison Of(float[] actual, float[] reference)
    {
        Assert.Equal(reference.Length, actual.Length);
        double diff = 0, norm = 0, max = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = actual[i] - reference[i];
            diff += d * d;
            norm += (double)reference[i] * reference[i];
            max = Math.Max(max, Math.Abs(d));
        }

        return new LogitComparison(Math.Sqrt(diff / norm), max, Array.IndexOf(actual, actual.Max()) == Array.IndexOf(reference, reference.Max()));
    }

    public override string ToString() => $"relative RMS {RelativeRms:E2}, max |diff| {MaxAbs:E2}, same argmax {SameArgmax}";
}
