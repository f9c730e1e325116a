namespace SharpTune.Training;

/// <summary>Random access to tokenized examples (the tokenized dataset cache, or samples in memory).</summary>
public interface ITrainingSamples
{
    int Count { get; }

    TrainingSample this[int index] { get; }
}
