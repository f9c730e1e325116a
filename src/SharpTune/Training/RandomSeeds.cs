using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Seeds every default generator libtorch draws from: the CPU one and, where CUDA is available, each GPU's. Recomputed
/// checkpointed layers depend on it to draw the same dropout masks as their forward did.
/// </summary>
public static class RandomSeeds
{
    public static void SetAll(long seed)
    {
        manual_seed(seed);
        if (cuda.is_available())
        {
            cuda.manual_seed_all(seed);
        }
    }
}
