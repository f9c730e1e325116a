namespace SharpTune.Distributed;

/// <summary>
/// Splits a dataset's row indices among the ranks, like PyTorch's DistributedSampler: each epoch, a shuffle
/// seeded by (seed, epoch) that every rank computes identically; the list is padded by repeating its start so its
/// length divides by the world size (or cut, with <c>dropLast</c>); rank r takes positions r, r + W, r + 2W, ...
/// The shards of one epoch are disjoint apart from the padding, cover the dataset, and have equal lengths, so every
/// rank runs the same number of steps. The shuffle is SplitMix64-driven Fisher-Yates, fixed here so it never changes
/// with the .NET version.
/// </summary>
public sealed class DistributedShardSampler
{
    public DistributedShardSampler(int datasetSize, int rank, int worldSize, long seed, bool shuffle = true, bool dropLast = false)
    {
        if (worldSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "the world size must be at least 1");
        }

        if (rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the rank must be in [0, {worldSize})");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(datasetSize);
        if (dropLast && datasetSize < worldSize)
        {
            throw new SharpTuneException($"the dataset has {datasetSize} rows, fewer than the {worldSize} ranks; nothing would be left with drop-last");
        }

        DatasetSize = datasetSize;
        Rank = rank;
        WorldSize = worldSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        SamplesPerRank = datasetSize == 0 ? 0 : dropLast ? datasetSize / worldSize : (datasetSize + worldSize - 1) / worldSize;
    }

    public int DatasetSize { get; }

    public int Rank { get; }

    public int WorldSize { get; }

    public long Seed { get; }

    public bool Shuffle { get; }

    public bool DropLast { get; }

    /// <summary>How many indices each rank gets per epoch (the same for every rank).</summary>
    public int SamplesPerRank { get; }

    /// <summary>This rank's indices for <paramref name="epoch"/>, in the order to visit them.</summary>
    public int[] Indices(int epoch)
    {
        int total = SamplesPerRank * WorldSize;
        int[] order = Shuffle ? Permutation(DatasetSize, Seed, epoch) : Enumerable.Range(0, DatasetSize).ToArray();
        var mine = new int[SamplesPerRank];
        for (int i = 0; i < SamplesPerRank; i++)
        {
            int position = Rank + i * WorldSize;
            // Padding past the end repeats the epoch's order from its start (position < total <= 2 * n unless n < W).
            mine[i] = order[position % DatasetSize];
        }

        return total == 0 ? [] : mine;
    }

    /// <summary>A permutation of [0, n) determined by (seed, epoch) alone.</summary>
    public static int[] Permutation(int n, long seed, int epoch)
    {
        var order = Enumerable.Range(0, n).ToArray();
        ulong state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ unchecked((ulong)epoch + 0x632BE59BD9B4E019UL);
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(Next(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): one step.</summary>
    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
