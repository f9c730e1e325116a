using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Training;

/// <summary>Checkpointed layers redraw their dropout masks in backward: reseeding must reproduce CUDA draws.</summary>
public sealed class RandomSeedsGpuTests(ITestOutputHelper output)
{
    [Fact]
    public void Reseeding_reproduces_cuda_dropout_masks()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = ones([4096], ScalarType.Float32, CUDA);
        RandomSeeds.SetAll(11);
        var first = nn.functional.dropout(x, 0.5, true);
        RandomSeeds.SetAll(11);
        var again = nn.functional.dropout(x, 0.5, true);
        RandomSeeds.SetAll(12);
        var other = nn.functional.dropout(x, 0.5, true);
        Assert.True(first.eq(again).all().item<bool>(), "the same seed gave different CUDA dropout masks");
        Assert.False(first.eq(other).all().item<bool>(), "two seeds gave the same CUDA dropout mask");

        // What torch.manual_seed alone does to the CUDA generator (recorded, not required).
        manual_seed(11);
        var viaCpuSeed = nn.functional.dropout(x, 0.5, true);
        output.WriteLine($"torch.manual_seed alone reproduces the CUDA mask: {viaCpuSeed.eq(first).all().item<bool>()}");
    }
}
