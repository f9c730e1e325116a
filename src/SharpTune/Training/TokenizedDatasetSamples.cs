using SharpTune.Data.Tokenized;

namespace SharpTune.Training;

/// <summary>The tokenized dataset cache (<c>sharptune data format</c>'s output) as training examples.</summary>
public sealed class TokenizedDatasetSamples(TokenizedDataset dataset) : ITrainingSamples
{
    public static TokenizedDatasetSamples Open(string directory) => new(TokenizedDataset.Open(directory));

    public int Count => dataset.Count;

    public TrainingSample this[int index]
    {
        get
        {
            var sample = dataset[index];
            return new TrainingSample(sample.InputIds, sample.CompletionMask);
        }
    }
}
