using static TorchSharp.torch;

namespace SharpTune.Tests.Training;

/// <summary>
/// Loads libtorch and limits its intra-op pool to one thread. The training tests run many tiny ops; on the shared
/// 2-core CI machines libtorch's spinning worker threads made them 50x slower than one thread.
/// </summary>
internal static class SingleThreadedTorch
{
    private static readonly Lazy<bool> Once = new(() =>
    {
        _ = TorchFixture.Runtime;
        set_num_threads(1);
        return true;
    });

    public static void Initialize() => _ = Once.Value;
}
