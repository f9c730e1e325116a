using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.Tests.Lora;

/// <summary>Leak checks by TorchSharp's count of live tensor wrappers.</summary>
internal static class LiveTensorCount
{
    /// <summary>
    /// Runs a forward-and-backward <paramref name="step"/> twice to settle, then <paramref name="calls"/> times, and
    /// asserts that no more tensors are alive than before (the last backward's results released first).
    /// </summary>
    public static void AssertNoGrowth(Action step, int calls = 20)
    {
        step();
        step();
        long before = Tensor.TotalCount;
        for (int i = 0; i < calls; i++)
        {
            step();
        }

        long after = Tensor.TotalCount;
        BackwardResults.ReleaseCurrentThread();
        Assert.True(after <= before, $"{after - before} tensors more alive after {calls} calls");
    }
}
