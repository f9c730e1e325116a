using SharpTune.Distributed;
using SharpTune.Distributed.Launch;
using TorchSharp;

namespace SharpTune.Tests.Distributed;

public sealed class GradientBucketPlanTests
{
    [Fact]
    public void Buckets_fill_in_reverse_order_up_to_the_cap_and_split_on_dtype()
    {
        // float32 sizes in elements; the cap is 1000 bytes = 250 floats.
        var parameters = new (long, torch.ScalarType, string)[]
        {
            (100, torch.ScalarType.Float32, "cpu"), // 0
            (100, torch.ScalarType.Float32, "cpu"), // 1
            (300, torch.ScalarType.Float32, "cpu"), // 2: alone, larger than the cap
            (50, torch.ScalarType.BFloat16, "cpu"), // 3: another dtype
            (100, torch.ScalarType.Float32, "cpu"), // 4
            (100, torch.ScalarType.Float32, "cpu"), // 5
        };
        var plan = GradientBucketPlan.Create(parameters, bucketBytes: 1000);
        Assert.Equal(4, plan.Buckets.Count);
        Assert.Equal([5, 4], plan.Buckets[0].Parameters);
        Assert.Equal([3], plan.Buckets[1].Parameters);
        Assert.Equal(torch.ScalarType.BFloat16, plan.Buckets[1].Type);
        Assert.Equal([2], plan.Buckets[2].Parameters);
        Assert.Equal([1, 0], plan.Buckets[3].Parameters);
        Assert.Equal([100, 0, 0, 0, 100, 0], plan.OffsetOf); // reverse order: the later parameter comes first
        Assert.Equal([3, 3, 2, 1, 0, 0], plan.BucketOf);
        Assert.Equal(200, plan.Buckets[0].Elements);
        Assert.Equal(300, plan.Buckets[2].Elements);
    }

    [Fact]
    public void Every_parameter_lands_in_exactly_one_bucket_at_disjoint_offsets()
    {
        var random = new Random(7);
        var parameters = Enumerable.Range(0, 200).Select(_ => ((long)random.Next(1, 5000), torch.ScalarType.Float32, "cuda:0")).ToArray();
        var plan = GradientBucketPlan.Create(parameters, bucketBytes: 64 << 10);
        Assert.Equal(Enumerable.Range(0, 200), plan.Buckets.SelectMany(b => b.Parameters).Order());
        foreach (var bucket in plan.Buckets)
        {
            long next = 0;
            foreach (int i in bucket.Parameters.OrderBy(i => plan.OffsetOf[i]))
            {
                Assert.Equal(next, plan.OffsetOf[i]);
                next += parameters[i].Item1;
            }

            Assert.Equal(bucket.Elements, next);
            Assert.True(bucket.Elements * 4 <= 64 << 10 || bucket.Parameters.Count == 1);
        }
    }

    [Fact]
    public void A_single_process_synchronizer_is_main_and_only_applies_a_scale()
    {
        _ = TorchFixture.Runtime;
        using var sync = new SingleProcessSynchronizer();
        Assert.True(sync.IsMain);
        Assert.Equal(1, sync.WorldSize);
        using var parameter = torch.ones(3).requires_grad_(true);
        parameter.grad = torch.full(3, 4.0f);
        sync.BroadcastParameters([parameter]);
        sync.AllReduceGradients([parameter]);
        Assert.Equal([4f, 4f, 4f], parameter.grad!.data<float>().ToArray());
        sync.AllReduceGradients([parameter], scale: 0.5);
        Assert.Equal([2f, 2f, 2f], parameter.grad!.data<float>().ToArray());
        Assert.Equal(7.0, sync.SumOverRanks(7.0));
        sync.Barrier();
    }

    [Fact]
    public void Joining_without_distributed_variables_gives_the_single_process_synchronizer()
    {
        _ = TorchFixture.Runtime;
        using var sync = DistributedTraining.Join(DistributedEnvironment.Single);
        Assert.IsType<SingleProcessSynchronizer>(sync);
        Assert.Null(LocalLauncher.RunThisToolOnGpus(1, ["train"], TextWriter.Null, TextWriter.Null, TestContext.Current.CancellationToken));
    }
}
