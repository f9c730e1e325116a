namespace SharpTune.Training;

/// <summary>
/// Seeds derived from several numbers the same way in every process, on every machine and .NET version (unlike
/// <see cref="HashCode.Combine{T1, T2}"/>, which is randomized per process): each part is folded in with SplitMix64's
/// finalizer. Data order and synthetic data depend on it, so resumed runs and the ranks of a data-parallel job agree.
/// </summary>
public static class StableSeed
{
    /// <summary>SplitMix64's output for the state <paramref name="state"/> (after the golden-gamma increment).</summary>
    public static ulong SplitMix64(ulong state)
    {
        ulong z = state + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A non-negative <see cref="int"/> seed for <see cref="Random"/> from the given parts, in order.</summary>
    public static int Combine(params ReadOnlySpan<long> parts)
    {
        ulong state = 0;
        foreach (long part in parts)
        {
            state = SplitMix64(state ^ (ulong)part);
        }

        return (int)(state & int.MaxValue);
    }
}
