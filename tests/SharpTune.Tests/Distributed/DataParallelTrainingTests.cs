using System.Globalization;
using System.Runtime.InteropServices;
using SharpTune.Models.Checkpoint;
using SharpTune.Training;

namespace SharpTune.Tests.Distributed;

/// <summary>
/// <c>sharptune train --gpus 2</c> on the CPU (two processes, collectives through the rendezvous store): the same steps
/// as one process with twice the batch, only rank 0 writes, and a resumed two-rank run continues the same curve.
/// </summary>
public sealed class DataParallelTrainingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sharptune-dp-").FullName;

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll");

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    [Fact]
    public void Two_ranks_with_batch_2_take_the_steps_of_one_process_with_batch_4_and_resume_the_same_curve()
    {
        Run("init-model", "--arch", "llama", "--size", "tiny", "--out", Path.Combine(_root, "model"));
        // One process, checkpoint_layers auto: on a CPU there is no GPU memory to size by, so every layer stays
        // checkpointed (the same steps as the two ranks, which checkpoint every layer) and the summary says so.
        var one = Train("one", batchSize: 4, gpus: 1, "checkpoint_layers: auto");
        Assert.DoesNotContain("[rank", one.Out);
        Assert.Contains("checkpoint_layers auto: every layer stayed checkpointed (no step was run, or the GPU memory or architecture is unknown)", one.Out);
        var two = Train("two", batchSize: 2, gpus: 2);
        Assert.Contains("[rank 0] trained 4 steps on cpu x 2 ranks", two.Out);
        Assert.DoesNotContain("[rank 1] trained", two.Out);
        Assert.Contains("train: all 2 ranks finished", two.Err);

        var single = SftTrainer.ReadLog(Path.Combine(_root, "one", SftTrainer.LogFileName)).ToArray();
        var parallel = SftTrainer.ReadLog(Path.Combine(_root, "two", SftTrainer.LogFileName)).ToArray();
        AssertSameCurve(single, parallel);
        AssertSameAdapter(Path.Combine(_root, "one", "adapter"), Path.Combine(_root, "two", "adapter"));

        // Interrupt after step 2: drop what steps 3-4 wrote, then resume on two ranks.
        string twoDir = Path.Combine(_root, "two");
        Directory.Delete(Path.Combine(twoDir, TrainingCheckpoint.DirectoryName(4)), recursive: true);
        Directory.Delete(Path.Combine(twoDir, "adapter"), recursive: true);
        var resumed = Train("two", batchSize: 2, gpus: 2, "", "--resume");
        Assert.Contains("trained 2 steps on cpu x 2 ranks", resumed.Out);
        AssertSameCurve(single, SftTrainer.ReadLog(Path.Combine(twoDir, SftTrainer.LogFileName)).ToArray());
        AssertSameAdapter(Path.Combine(_root, "one", "adapter"), Path.Combine(twoDir, "adapter"));
    }

    private (string Out, string Err) Train(string name, int batchSize, int gpus, string extraYaml = "", params string[] extra)
    {
        string config = Path.Combine(_root, name + ".yaml");
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
            model: {Path.Combine(_root, "model")}
            output_dir: {Path.Combine(_root, name)}
            synthetic_tokens: 40
            max_steps: 4
            batch_size: {batchSize}
            gradient_accumulation: 2
            save_steps: 2
            save_total_limit: 3
            device: cpu
            precision: fp32
            gpus: {gpus}
            {extraYaml}
            """));
        return Run(["train", "--config", config, .. extra]);
    }

    private (string Out, string Err) Run(params string[] arguments)
    {
        var run = ProcessRunner.RunWithExitCode(Dotnet, null, [Cli, .. arguments]) ?? throw new InvalidOperationException("dotnet not found");
        output.WriteLine(run.StdOut);
        output.WriteLine(run.StdErr);
        Assert.True(run.ExitCode == 0, $"sharptune {string.Join(' ', arguments)} exited with {run.ExitCode}: {run.StdErr}");
        return (run.StdOut, run.StdErr);
    }

    private static void AssertSameCurve(TrainingStepMetrics[] expected, TrainingStepMetrics[] actual)
    {
        Assert.Equal(expected.Select(s => s.Step), actual.Select(s => s.Step));
        for (int i = 0; i < expected.Length; i++)
        {
            // fp32 on the CPU: only the order of summation differs (per rank, then across ranks).
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.Equal(expected[i].Loss, actual[i].Loss, 1e-5);
            Assert.Equal(expected[i].GradNorm, actual[i].GradNorm, 1e-5);
            Assert.Equal(expected[i].LearningRate, actual[i].LearningRate, 1e-12);
        }

        // The curve must move, or equal curves would prove nothing.
        Assert.NotEqual(expected[0].Loss, expected[^1].Loss, 1e-4);
    }

    private static void AssertSameAdapter(string expectedDir, string actualDir)
    {
        using var expected = SafetensorsFile.Open(Path.Combine(expectedDir, "adapter_model.safetensors"));
        using var actual = SafetensorsFile.Open(Path.Combine(actualDir, "adapter_model.safetensors"));
        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), actual.Tensors.Select(t => t.Name).Order());
        double largestChange = 0;
        foreach (var info in expected.Tensors)
        {
            Assert.Equal(SafetensorsDType.F32, info.DType);
            var a = MemoryMarshal.Cast<byte, float>(expected.GetBytes(info.Name));
            var b = MemoryMarshal.Cast<byte, float>(actual.GetBytes(info.Name));
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++)
            {
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 + 1e-4 * Math.Abs(a[i]), $"{info.Name}[{i}]: {a[i]} vs {b[i]}");
                largestChange = Math.Max(largestChange, Math.Abs(a[i]));
            }
        }

        Assert.True(largestChange > 0);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
