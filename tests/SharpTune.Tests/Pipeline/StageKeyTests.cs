using SharpTune.Pipeline.Manifest;
using SharpTune.Pipeline.Running;
using SharpTune.Pipeline.Stages;

namespace SharpTune.Tests.Pipeline;

/// <summary>
/// Which of the real stages rerun when which setting changes: the real stages' names, inputs and resolved settings,
/// with outputs that follow from their settings and inputs (the runner and keys are what is under test).
/// </summary>
public sealed class StageKeyTests
{
    private static readonly string[] Order = [.. StageNames.All];

    private static async Task<Dictionary<string, string>> RunAll(TempPipeline temp, string runId, params (string, string)[] overrides)
    {
        var graph = new StageGraph(StandardStages.Create().Stages.Select(s => new EchoStage(s)));
        var runner = new PipelineRunner(temp.Load(overrides), graph, temp.Cache, new PipelineRunOptions { RunId = runId, ToolVersion = "1.0" });
        var records = await runner.RunAsync(StageNames.Publish, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(Order.Length, records.Count);
        return records.ToDictionary(r => r.Stage, r => r.Outcome);
    }

    private static string[] Reran(Dictionary<string, string> outcomes) => Order.Where(s => outcomes[s] == StageOutcome.Ran).ToArray();

    [Fact]
    public async Task Each_setting_reruns_its_stage_and_the_stages_after_it_only()
    {
        using var temp = new TempPipeline();
        Assert.Equal(Order, Reran(await RunAll(temp, "r0")));
        Assert.Empty(Reran(await RunAll(temp, "r1")));

        // A training setting: TrainLoRA and what follows; not FetchDataset, FormatPrompts or QuantizeBase.
        Assert.Equal(["TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r2", ("learning_rate: 1.0e-3", "learning_rate: 2.0e-4"))));
        Assert.Equal(["TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r3", ("learning_rate: 1.0e-3", "learning_rate: 2.0e-4"), ("r: 4", "r: 16"))));
        Assert.Empty(Reran(await RunAll(temp, "r4", ("learning_rate: 1.0e-3", "learning_rate: 2.0e-4"), ("r: 4", "r: 16"))));

        // Prompt formatting: FormatPrompts onwards, the base model and its quantization stay.
        Assert.Equal(["FormatPrompts", "TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r5", ("max_seq_length: 128", "max_seq_length: 64"))));

        // Quantization: QuantizeBase onwards except the prompts and the export (which merges into the 16-bit base).
        Assert.Equal(["QuantizeBase", "TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r6", ("type: nf4", "type: none"))));

        // Export and publish settings touch only their stages.
        Assert.Equal(["ExportGguf", "Publish"], Reran(await RunAll(temp, "r7", ("gguf: [f16]", "gguf: [f16, q8_0]"))));
        Assert.Equal(["Publish"], Reran(await RunAll(temp, "r8", ("local_dir: " + temp.PathOf("publish"), "local_dir: " + temp.PathOf("elsewhere")))));

        // Evaluation settings: Evaluate and Publish.
        Assert.Equal(["Evaluate", "Publish"], Reran(await RunAll(temp, "r9", ("max_new_tokens: 8", "max_new_tokens: 9"))));
    }

    [Fact]
    public async Task Local_inputs_count_by_content_so_editing_the_dataset_reruns_from_fetch_dataset()
    {
        using var temp = new TempPipeline();
        await RunAll(temp, "r0");
        File.AppendAllText(temp.PathOf("train.jsonl"), "{\"instruction\":\"new\",\"input\":\"\",\"output\":\"x\"}\n");
        Assert.Equal(["FetchDataset", "FormatPrompts", "TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r1")));

        File.WriteAllText(temp.PathOf("tokenizer/tokenizer.json"), "{\"model\":{\"type\":\"Unigram\"}}");
        Assert.Equal(["FetchModel", "QuantizeBase", "FormatPrompts", "TrainLoRA", "Evaluate", "ExportGguf", "Publish"], Reran(await RunAll(temp, "r2")));

        File.AppendAllText(temp.PathOf("eval.jsonl"), "{\"instruction\":\"more\",\"input\":\"\",\"output\":\"y\"}\n");
        Assert.Equal(["Evaluate", "Publish"], Reran(await RunAll(temp, "r3")));
    }

    [Fact]
    public void Resolved_settings_name_local_files_by_hash_and_hold_no_secrets()
    {
        using var temp = new TempPipeline();
        var pipeline = temp.Load(("local_dir: " + temp.PathOf("publish"), "hub_repo: me/model"));
        foreach (var stage in StandardStages.Create().Stages)
        {
            string json = stage.ResolveSettings(pipeline).ToJsonString();
            Assert.DoesNotContain("\"token\"", json, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("hf_", json, StringComparison.Ordinal);
            Assert.Contains("\"revision\":1", json);
        }

        var dataset = new FetchDatasetStage().ResolveSettings(pipeline);
        Assert.Matches("^[0-9a-f]{64}$", (string?)dataset["file"]!["sha256"]);
        var error = Assert.Throws<SharpTuneException>(() => new FetchDatasetStage().ResolveSettings(temp.Load(("file: " + temp.PathOf("train.jsonl"), "file: /no/such.jsonl"))));
        Assert.StartsWith("dataset.file: file not found: /no/such.jsonl", error.Message);
    }
}
