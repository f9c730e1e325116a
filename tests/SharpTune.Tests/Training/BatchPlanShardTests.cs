using SharpTune.Training;

namespace SharpTune.Tests.Training;

public sealed class BatchPlanShardTests
{
    /// <summary>Examples of different lengths, so that shards pad to different lengths than the whole batch.</summary>
    private sealed class VaryingSamples : ITrainingSamples
    {
        public int Count => 24;

        public TrainingSample this[int index] => new(
            [.. Enumerable.Range(0, 5 + (index * 7 % 11)).Select(i => 100 * index + i)],
            [.. Enumerable.Range(0, 5 + (index * 7 % 11)).Select(i => (byte)(i >= 2 ? 1 : 0))]);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void The_shards_of_a_micro_batch_hold_its_rows_in_order(int shards)
    {
        var plan = new BatchPlan(new VaryingSamples(), batchSize: 4, maxLength: 12, completionOnly: true, packing: false, seed: 7);
        for (long index = 0; index < 9; index++)
        {
            var whole = plan.Batch(index);
            var rows = new List<(long[] Ids, long[] Labels)>();
            int realTokens = 0;
            for (int shard = 0; shard < shards; shard++)
            {
                var part = plan.Batch(index, shard, shards);
                Assert.Equal(4 / shards, part.BatchSize);
                realTokens += part.RealTokens;
                rows.AddRange(Rows(part));
            }

            Assert.Equal(whole.RealTokens, realTokens);
            Assert.Equal(whole.TargetTokens, rows.Sum(r => r.Labels.Count(l => l != TrainingBatch.IgnoreIndex)));
            var expected = Rows(whole).ToArray();
            for (int r = 0; r < 4; r++)
            {
                // Same tokens and labels; the shard's padding may be shorter.
                Assert.Equal(expected[r].Ids.AsSpan(0, rows[r].Ids.Length).ToArray(), rows[r].Ids);
                Assert.Equal(expected[r].Labels.AsSpan(0, rows[r].Labels.Length).ToArray(), rows[r].Labels);
                Assert.All(expected[r].Labels.Skip(rows[r].Labels.Length), l => Assert.Equal(TrainingBatch.IgnoreIndex, l));
            }
        }
    }

    [Fact]
    public void A_batch_that_does_not_split_evenly_is_refused()
    {
        var plan = new BatchPlan(new VaryingSamples(), batchSize: 4, maxLength: 12, completionOnly: true, packing: false, seed: 7);
        Assert.Throws<ArgumentException>(() => plan.Batch(0, 0, 3));
        Assert.Throws<ArgumentException>(() => plan.Batch(0, 2, 2));
    }

    private static IEnumerable<(long[] Ids, long[] Labels)> Rows(TrainingBatch batch) =>
        Enumerable.Range(0, batch.BatchSize).Select(r =>
            (batch.InputIds.AsSpan(r * batch.Length, batch.Length).ToArray(), batch.Labels.AsSpan(r * batch.Length, batch.Length).ToArray()));
}
