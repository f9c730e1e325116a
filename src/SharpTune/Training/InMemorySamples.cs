namespace SharpTune.Training;

/// <summary>Tokenized examples held in a list.</summary>
public sealed class InMemorySamples(IReadOnlyList<TrainingSample> samples) : ITrainingSamples
{
    public int Count => samples.Count;

    public TrainingSample this[int index] => samples[index];
}
