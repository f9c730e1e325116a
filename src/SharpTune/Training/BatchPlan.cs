namespace SharpTune.Training;

/// <summary>
/// Which examples go into which micro-batch, deterministic for a seed: sequences are cut to the maximum length,
/// optionally packed (consecutive examples concatenated into sequences of at most that length, each example whole),
/// shuffled once per epoch with a generator seeded by (seed, epoch), and grouped into micro-batches (the last partial
/// one of an epoch is dropped). Labels predict the next token where the completion mask (or, without completion-only
/// loss, any real token) says so; nothing is predicted across a packing boundary.
/// </summary>
public sealed class BatchPlan
{
    private readonly List<List<int>> _sequences;
    private readonly ITrainingSamples _samples;
    private readonly int _batchSize;
    private readonly int _maxLength;
    private readonly bool _completionOnly;
    private readonly int _seed;

    public BatchPlan(ITrainingSamples samples, int batchSize, int maxLength, bool completionOnly, bool packing, int seed)
    {
        if (samples.Count == 0)
        {
            throw new SharpTuneException("the training dataset is empty");
        }

        _samples = samples;
        _batchSize = batchSize;
        _maxLength = maxLength;
        _completionOnly = completionOnly;
        _seed = seed;
        _sequences = packing ? Pack(samples, maxLength) : Enumerable.Range(0, samples.Count).Select(i => new List<int> { i }).ToList();
        if (_sequences.Count < batchSize)
        {
            throw new SharpTuneException($"the dataset has {_sequences.Count} sequences, fewer than one batch of {batchSize}");
        }
    }

    public int SequenceCount => _sequences.Count;

    public int BatchesPerEpoch => _sequences.Count / _batchSize;

    /// <summary>The <paramref name="index"/>-th micro-batch of the whole run (epochs follow each other).</summary>
    public TrainingBatch Batch(long index) => Batch(index, 0, 1);

    /// <summary>
    /// Shard <paramref name="shard"/> of <paramref name="shards"/> of the <paramref name="index"/>-th micro-batch: its
    /// rows [shard·B/shards, (shard+1)·B/shards), padded only to their own longest row. Data parallelism gives each
    /// rank one shard, so N ranks together see exactly the micro-batch one process would.
    /// </summary>
    public TrainingBatch Batch(long index, int shard, int shards)
    {
        if (shards < 1 || shard < 0 || shard >= shards || _batchSize % shards != 0)
        {
            throw new ArgumentException($"cannot split a batch of {_batchSize} rows into shard {shard} of {shards}");
        }

        int epoch = (int)(index / BatchesPerEpoch);
        int within = (int)(index % BatchesPerEpoch);
        int[] order = EpochOrder(epoch);
        int rowsPerShard = _batchSize / shards;
        var rows = Enumerable.Range(within * _batchSize + shard * rowsPerShard, rowsPerShard).Select(i => Row(_sequences[order[i]])).ToArray();
        int length = rows.Max(r => r.Ids.Count);
        var ids = new long[rowsPerShard * length];
        var labels = new long[rowsPerShard * length];
        Array.Fill(labels, TrainingBatch.IgnoreIndex);
        for (int b = 0; b < rows.Length; b++)
        {
            for (int j = 0; j < rows[b].Ids.Count; j++)
            {
                ids[b * length + j] = rows[b].Ids[j];
                labels[b * length + j] = rows[b].Labels[j];
            }
        }

        return new TrainingBatch(ids, labels, rowsPerShard, length, rows.Sum(r => r.Ids.Count));
    }

    private int[] EpochOrder(int epoch)
    {
        var order = Enumerable.Range(0, _sequences.Count).ToArray();
        new Random(StableSeed.Combine(_seed, epoch, 0x5f3759df)).Shuffle(order);
        return order;
    }

    private (List<long> Ids, List<long> Labels) Row(List<int> members)
    {
        var ids = new List<long>();
        var labels = new List<long>();
        foreach (int index in members)
        {
            var sample = _samples[index];
            int n = Math.Min(sample.InputIds.Length, _maxLength);
            if (sample.CompletionMask.Length < n)
            {
                throw new SharpTuneException($"example {index}: completion mask has {sample.CompletionMask.Length} entries for {sample.InputIds.Length} tokens");
            }

            for (int j = 0; j < n; j++)
            {
                ids.Add(sample.InputIds[j]);
                bool nextInSample = j + 1 < n;
                bool wanted = nextInSample && (!_completionOnly || sample.CompletionMask[j + 1] != 0);
                labels.Add(wanted ? sample.InputIds[j + 1] : TrainingBatch.IgnoreIndex);
            }
        }

        return (ids, labels);
    }

    private static List<List<int>> Pack(ITrainingSamples samples, int maxLength)
    {
        var sequences = new List<List<int>>();
        var current = new List<int>();
        int used = 0;
        for (int i = 0; i < samples.Count; i++)
        {
            int length = Math.Min(samples[i].InputIds.Length, maxLength);
            if (used + length > maxLength && current.Count > 0)
            {
                sequences.Add(current);
                current = [];
                used = 0;
            }

            current.Add(i);
            used += length;
        }

        if (current.Count > 0)
        {
            sequences.Add(current);
        }

        return sequences;
    }
}
