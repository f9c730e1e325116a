namespace SharpTune.Training;

/// <summary>
/// Random token sequences of a fixed length with the loss on every token, for benchmarks: the step time and memory
/// of real training without a dataset. Deterministic for a seed.
/// </summary>
public sealed class SyntheticSamples(int count, int length, int vocabSize, int seed) : ITrainingSamples
{
    public int Count => count;

    public TrainingSample this[int index]
    {
        get
        {
            var random = new Random(StableSeed.Combine(seed, index));
            var ids = new int[length];
            for (int i = 0; i < length; i++)
            {
                ids[i] = random.Next(vocabSize);
            }

            var mask = new byte[length];
            Array.Fill(mask, (byte)1);
            return new TrainingSample(ids, mask);
        }
    }
}
