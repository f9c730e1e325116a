using SharpTune.Training;

namespace SharpTune.Tests.Training;

public sealed class StableSeedTests
{
    [Fact]
    public void SplitMix64_gives_the_reference_sequence()
    {
        // The first outputs of Vigna's splitmix64.c seeded with 0 (state advanced by the golden gamma before mixing).
        Assert.Equal(0xE220A8397B1DCDAFUL, StableSeed.SplitMix64(0));
        Assert.Equal(0x6E789E6AA1B965F4UL, StableSeed.SplitMix64(0x9E3779B97F4A7C15UL));
    }

    [Fact]
    public void Combine_depends_on_every_part_and_its_order_and_is_non_negative()
    {
        int seed = StableSeed.Combine(3407, 0, 0x5f3759df);
        Assert.True(seed >= 0);
        Assert.Equal(seed, StableSeed.Combine(3407, 0, 0x5f3759df));
        Assert.NotEqual(seed, StableSeed.Combine(3407, 1, 0x5f3759df));
        Assert.NotEqual(StableSeed.Combine(1, 2), StableSeed.Combine(2, 1));
    }
}
