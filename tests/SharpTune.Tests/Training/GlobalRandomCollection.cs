namespace SharpTune.Tests.Training;

/// <summary>
/// Tests that reseed libtorch's process-wide generator and expect the same random draws again (dropout in a
/// recomputed layer, a resumed run) run alone, so no other test draws from that generator in between.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRandomCollection
{
    public const string Name = "libtorch global generator";
}
