using System.Diagnostics;
using SharpTune.Gguf;

namespace SharpTune.GpuTests.Gguf;

/// <summary>
/// Export time of a Llama-3-8B-shaped model (synthetic weights generated on the fly, the real tensor shapes,
/// quantizers and write path) to q8_0 and q4_k_m on the GPU host's CPU cores. Needs no GPU; it runs there because
/// that host has the cores and disk of a real run. Figures go under "GGUF export" in docs/benchmarks.md.
/// </summary>
public sealed class GgufExportBenchmarkTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("q8_0", 8.0, 8.6)]
    [InlineData("q4_k_m", 4.5, 5.0)]
    public void Llama3_8b_shaped_export(string quant, double minGiB, double maxGiB)
    {
        var config = SyntheticTensorSource.Llama3_8B();
        var vocabulary = SyntheticTensorSource.PlaceholderVocabulary(config.VocabSize);
        string directory = Path.Combine(Path.GetTempPath(), "sharptune-gguf-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string path = Path.Combine(directory, $"bench.{quant}.gguf");
            using var source = new SyntheticTensorSource(config);
            var peak = Process.GetCurrentProcess();
            var result = GgufExporter.Export(config, vocabulary, source, path, GgufFileTypes.Parse(quant),
                cancellationToken: TestContext.Current.CancellationToken);
            peak.Refresh();
            double gib = result.FileBytes / 1073741824.0;
            output.WriteLine($"{quant}: {result.Parameters / 1e9:F2} B params -> {gib:F2} GiB in {result.Elapsed.TotalSeconds:F1} s " +
                $"on {Environment.ProcessorCount} cores ({result.Parameters / result.Elapsed.TotalSeconds / 1e6:F0} M params/s), " +
                $"peak working set {peak.PeakWorkingSet64 / 1048576} MiB");
            Assert.InRange(gib, minGiB, maxGiB);
            Assert.True(peak.PeakWorkingSet64 < 4L << 30, "export should stream: one chunk of one tensor in memory");
            using var reader = GgufReader.Open(path);
            Assert.Equal(32 * 9 + 4, reader.Tensors.Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
