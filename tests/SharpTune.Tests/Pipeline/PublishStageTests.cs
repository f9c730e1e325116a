using SharpTune.Pipeline.Manifest;
using SharpTune.Pipeline.Running;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Tests.Pipeline;

public sealed class PublishStageTests
{
    private static StageGraph Graph() => new(
    [
        new FileStage(StageNames.TrainLoRA, [], new Dictionary<string, string>
        {
            ["adapter/adapter_config.json"] = "{\"r\":4}", ["adapter/adapter_model.safetensors"] = "weights", ["train_log.jsonl"] = "{}",
        }, new Dictionary<string, string> { ["adapter"] = "adapter", ["log"] = "train_log.jsonl" }),
        new FileStage(StageNames.Evaluate, [StageNames.TrainLoRA], new Dictionary<string, string>
        {
            ["report/report.md"] = "# report", ["report/loss-curve.png"] = "png",
        }, new Dictionary<string, string> { ["report_folder"] = "report", ["report"] = "report/report.md" }),
        new FileStage(StageNames.ExportGguf, [StageNames.TrainLoRA], new Dictionary<string, string>
        {
            ["test-f16.gguf"] = "GGUF f16", ["test-q8_0.gguf"] = "GGUF q8", ["Modelfile"] = "FROM ./test-q8_0.gguf",
        }, new Dictionary<string, string> { ["gguf f16"] = "test-f16.gguf", ["gguf q8_0"] = "test-q8_0.gguf", ["modelfile"] = "Modelfile" }),
        new PublishStage(),
    ]);

    [Fact]
    public async Task Publishing_locally_copies_adapter_gguf_modelfile_and_report_and_says_where_they_are()
    {
        using var temp = new TempPipeline();
        var runner = new PipelineRunner(temp.Load(), Graph(), temp.Cache, new PipelineRunOptions { RunId = "p1" });
        var records = await runner.RunAsync(StageNames.Publish, cancellationToken: TestContext.Current.CancellationToken);
        var publish = records[^1];
        Assert.Equal(StageOutcome.Ran, publish.Outcome);

        string folder = temp.PathOf("publish");
        Assert.Equal(
            ["Modelfile", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "report/loss-curve.png", "report/report.md", "test-f16.gguf", "test-q8_0.gguf"],
            Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f)).Order(StringComparer.Ordinal));
        Assert.Equal("GGUF q8", File.ReadAllText(Path.Combine(folder, "test-q8_0.gguf")));
        Assert.Equal(Path.Combine(folder, "adapter"), publish.Outputs["adapter"]);
        Assert.Equal(Path.Combine(folder, "test-q8_0.gguf"), publish.Outputs["gguf q8_0"]);
        Assert.Equal(Path.Combine(folder, "report", "report.md"), publish.Outputs["report"]);

        var again = await new PipelineRunner(temp.Load(), Graph(), temp.Cache, new PipelineRunOptions { RunId = "p2" }).RunStageAsync(StageNames.Publish, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(StageOutcome.Cached, again.Outcome);

        // A deleted published folder is published again, not reported as a hit.
        Directory.Delete(folder, recursive: true);
        var log = new StringWriter();
        var redone = await new PipelineRunner(temp.Load(), Graph(), temp.Cache, new PipelineRunOptions { RunId = "p3", Log = log }).RunStageAsync(StageNames.Publish, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(StageOutcome.Ran, redone.Outcome);
        Assert.Contains("is missing or changed", log.ToString());
        Assert.True(File.Exists(Path.Combine(folder, "report", "report.md")));
    }
}
