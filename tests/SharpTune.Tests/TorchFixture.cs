using SharpTune.Runtime;

namespace SharpTune.Tests;

/// <summary>Loads libtorch once for the test process, the way the tool does.</summary>
public static class TorchFixture
{
    public static TorchRuntimeInfo Runtime { get; } = TorchRuntime.Initialize();
}
