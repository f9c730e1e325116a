using System.Text.Json;
using SharpTune.Benchmarks;
using SharpTune.Cli;
using SharpTune.Models;
using SharpTune.Training;

namespace SharpTune.Tests.Benchmarks;

[Collection(SharpTune.Tests.Training.GlobalRandomCollection.Name)]
public sealed class TrainingBenchmarkTests
{
    private static ModelConfig Tiny(ModelFamily family) =>
        TinyModelFactory.Config(family, TinyModelSize.Tiny, vocabSize: 97, bosTokenId: 1, eosTokenIds: [2]);

    [Theory]
    [InlineData("lora", GradientCheckpointing.Off, "adamw")]
    [InlineData("qlora", GradientCheckpointing.On, "adamw_8bit")]
    public void Tiny_model_on_cpu_reports_sane_numbers(string mode, GradientCheckpointing checkpointing, string optimizer)
    {
        SharpTune.Tests.Training.SingleThreadedTorch.Initialize();
        var options = new BenchmarkOptions
        {
            Config = Tiny(ModelFamily.Llama), Mode = mode, Batch = 2, Sequence = 8, Steps = 3, Warmup = 1,
            Checkpointing = checkpointing, Optimizer = optimizer, Device = "cpu", LoraRank = 4,
        };
        var result = TrainingBenchmark.Run(options, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(3, result.StepSeconds.Count);
        Assert.All(result.StepSeconds, s => Assert.True(s > 0));
        Assert.True(result.TokensPerSecond > 0);
        Assert.Equal(2 * 8 / result.MedianStepSeconds, result.TokensPerSecond, 6);
        Assert.Null(result.PeakGpuMemoryBytes);
        Assert.Null(result.Mfu);
        Assert.True(double.IsFinite(result.FinalLoss) && result.FinalLoss > 0);
        // r=4 on the seven projections of 2 layers: A [4, in] and B [out, 4] each.
        var c = options.Config!;
        long q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim, h = c.HiddenSize, m = c.IntermediateSize;
        long perLayer = 4 * ((h + q) + (h + kv) * 2 + (q + h) + (h + m) * 2 + (m + h));
        Assert.Equal(c.NumHiddenLayers * perLayer, result.TrainableParameters);
        Assert.Equal(6.0 * BenchmarkModels.DenseParameters(c), result.FlopsPerToken);
        Assert.Contains("tokens/s", result.ToTable());
        using var json = JsonDocument.Parse(result.ToJson());
        Assert.Equal(result.TokensPerSecond, json.RootElement.GetProperty("tokens_per_second").GetDouble());
    }

    [Fact]
    public void Trace_lists_every_layer_forward_recompute_and_backward_of_the_first_measured_step()
    {
        SharpTune.Tests.Training.SingleThreadedTorch.Initialize();
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-trace-{Guid.NewGuid():N}.md");
        try
        {
            var options = new BenchmarkOptions
            {
                Config = Tiny(ModelFamily.Llama), Mode = "lora", Batch = 2, Sequence = 8, Steps = 2, Warmup = 1,
                Checkpointing = GradientCheckpointing.On, Optimizer = "adamw", Device = "cpu", LoraRank = 4, TracePath = path,
            };
            TrainingBenchmark.Run(options, cancellation: TestContext.Current.CancellationToken);
            string[] rows = File.ReadAllLines(path);
            Assert.StartsWith("# step 2 on ", rows[0]);
            string[] marks = rows.Skip(3).Select(r => r.Split('|')[1].Trim()).ToArray();
            int layers = options.Config!.NumHiddenLayers;
            string[] expected =
            [
                "step begins", "micro-batch on the device", "embedding",
                .. Enumerable.Range(0, layers).Select(i => $"layer {i} forward"),
                "final norm", "loss forward", "loss chunk backward",
                .. Enumerable.Range(0, layers).Reverse().SelectMany(i => new[] { $"layer {i} recomputed", $"layer {i} backward" }),
                "backward", "gradients ready (loss not read yet)", "gradients clipped (norm not read yet)", "optimizer", "step ends",
            ];
            Assert.Equal(expected, marks);
            double[] times = rows.Skip(3).Select(r => double.Parse(r.Split('|')[2], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(times.Order(), times);
            Assert.All(rows.Skip(3), r => Assert.Contains("| n/a |", r));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Median_excludes_nothing_and_handles_even_counts()
    {
        Assert.Equal(2.0, TrainingBenchmark.Median([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, TrainingBenchmark.Median([4.0, 1.0, 2.0, 3.0]));
    }

    [Theory]
    [InlineData("NVIDIA H200", 989.0)]
    [InlineData("NVIDIA H100 80GB HBM3", 989.0)]
    [InlineData("NVIDIA H100 PCIe", 756.0)]
    [InlineData("NVIDIA H200 NVL", 835.0)]
    [InlineData("Some GPU", null)]
    public void Peak_comes_from_the_gpu_name(string name, double? tflops) =>
        Assert.Equal(tflops, GpuPeakThroughput.DenseBf16Tflops(name));

    [Theory]
    [InlineData("--mode", "full", "--mode must be lora or qlora")]
    [InlineData("--batch", "0", "--batch must be positive")]
    [InlineData("--seq", "1", "--seq must be at least 2")]
    [InlineData("--checkpointing", "sometimes", "--checkpointing must be none, layer or offload")]
    [InlineData("--kernels", "maybe", "--kernels must be on or off")]
    [InlineData("--model", "gpt2", "unknown model 'gpt2'")]
    [InlineData("--steps", "0", "--steps must be positive")]
    [InlineData("--warmup", "-1", "--warmup must not be negative")]
    [InlineData("--loss-chunk", "0", "--loss-chunk must be positive")]
    [InlineData("--embedding", "disk", "--embedding must be host or device, not 'disk'")]
    [InlineData("--checkpoint-layers", "-1", "--checkpoint-layers must be a number of layers or auto, not '-1'")]
    [InlineData("--trace", "/", "--trace / is a directory")]
    [InlineData("--device", "tpu", "unknown device 'tpu' (use auto, cpu, cuda or cuda:N)")]
    public void Bad_arguments_are_one_clear_line(string option, string value, string expected)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(["bench", option, value], stdout, stderr);
        Assert.NotEqual(0, code);
        string error = stderr.ToString().TrimEnd();
        Assert.DoesNotContain('\n', error);
        Assert.StartsWith("error: bench: ", error);
        Assert.Contains(expected, error);
    }
}
