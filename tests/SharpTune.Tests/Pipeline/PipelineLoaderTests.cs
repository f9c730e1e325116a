using SharpTune.Cli;
using SharpTune.Pipeline.Config;

namespace SharpTune.Tests.Pipeline;

public sealed class PipelineLoaderTests
{
    private static PipelineConfigException Fails(string yaml)
    {
        var error = Assert.Throws<PipelineConfigException>(() => PipelineLoader.Parse(yaml, "p.yaml"));
        return error;
    }

    [Fact]
    public void The_reference_pipeline_has_the_settings_of_the_reference_run()
    {
        var p = PipelineLoader.Load(Path.Combine(RepositoryRoot.Path, "pipelines", "medical-qlora.yaml"));
        Assert.Equal("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", p.Model.HubId);
        Assert.Null(p.Model.Init);
        Assert.Equal(("shibing624/medical", "finetune", "train", 200), (p.Dataset.HubId, p.Dataset.Config, p.Dataset.Split, p.Dataset.Rows));
        Assert.Equal(("nf4", true), (p.Quantize.Type, p.Quantize.DoubleQuant));
        Assert.Equal((16, 16.0, 0.0), (p.Lora.Rank, p.Lora.Alpha, p.Lora.Dropout));
        Assert.Equal(LoraSettings.AllTargets, p.Lora.Targets);
        var t = p.Training;
        Assert.Equal((2, 4, 75, 2e-4, "adamw_8bit", 3407, true, "auto"),
            (t.BatchSize, t.GradientAccumulation, t.Steps, t.LearningRate, t.Optimizer, t.Seed, t.GradientCheckpointing, t.Precision));
        Assert.Equal(2048, p.Prompt.MaxSequenceLength);
        Assert.Equal(["q8_0", "q4_k_m", "f16", "bf16"], p.Export.GgufTypes);
        Assert.True(p.Export.OllamaModelfile);
        Assert.Contains("我最近总是感到疲劳,可能是什么原因?", p.Evaluate.Questions);
        Assert.Equal("out/medical-qlora", p.OutputDirectory);
    }

    [Fact]
    public void The_embedded_default_is_pipelines_default_yaml_and_uses_a_tiny_local_model_on_cpu()
    {
        string file = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "pipelines", "default.yaml"));
        Assert.Equal(file, PipelineLoader.EmbeddedDefaultText());
        var p = PipelineLoader.Load(null);
        Assert.Equal(PipelineLoader.EmbeddedDefaultName, p.Source);
        Assert.Equal("default", p.Name);
        Assert.Equal(new InitModelSettings("llama", "tiny", 3407), p.Model.Init);
        Assert.Null(p.Model.HubId);
        Assert.Equal("datasets/medical/train.jsonl", p.Dataset.File);
        Assert.Equal("cpu", p.Training.Device);
        Assert.Null(p.Publish.HubRepo);
        Assert.Equal("out/publish", p.Publish.LocalDirectory);
    }

    [Fact]
    public void An_unknown_key_is_reported_at_its_line_and_column_with_the_closest_known_key()
    {
        var error = Fails("model:\n  id: a/b\n  revison: main\ndataset:\n  file: x.jsonl\n");
        var d = Assert.Single(error.Diagnostics);
        Assert.Equal("p.yaml:3:3: unknown key 'revison' in 'model' (did you mean 'revision'?)", d.ToString());
    }

    [Fact]
    public void Keys_named_as_other_tools_name_them_point_to_ours()
    {
        var error = Fails("model: {id: a/b}\ndataset: {file: x}\ntraining:\n  lr: 1e-4\nlora:\n  lora_alpha: 32\n");
        Assert.Equal(
            ["p.yaml:4:3: unknown key 'lr' in 'training' (did you mean 'learning_rate'?)", "p.yaml:6:3: unknown key 'lora_alpha' in 'lora' (did you mean 'alpha'?)"],
            error.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void An_unknown_top_level_key_without_a_close_match_lists_the_known_keys()
    {
        var error = Fails("model: {id: a/b}\ndataset: {file: x}\nzzzzzzzz: 1\n");
        var d = Assert.Single(error.Diagnostics);
        Assert.StartsWith("p.yaml:3:1: unknown key 'zzzzzzzz' at the top level; known keys: cache, dataset, evaluate, export, lora, model, name, output,", d.ToString());
    }

    [Fact]
    public void Wrong_types_and_out_of_range_values_are_reported_where_the_value_is()
    {
        var error = Fails("model: {id: a/b}\ndataset: {file: x}\ntraining:\n  steps: many\n  learning_rate: -1\n  gradient_checkpointing: maybe\nlora:\n  r: [1]\n  targets: {q: 1}\n");
        Assert.Equal(
        [
            "p.yaml:4:10: 'training.steps' must be an integer, got 'many'",
            "p.yaml:5:18: 'training.learning_rate' must be between 0 and 10, got -1",
            "p.yaml:6:27: 'training.gradient_checkpointing' must be true or false, got 'maybe'",
            "p.yaml:8:6: 'lora.r' must be an integer, got a list",
            "p.yaml:9:12: 'lora.targets' must be a list of strings, got a mapping",
        ], error.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void A_misspelt_choice_suggests_the_allowed_value()
    {
        var error = Fails("model: {id: a/b}\ndataset: {file: x}\ntraining:\n  optimizer: adamw8bit\nexport:\n  gguf: [q8_0, q4km]\n");
        Assert.Equal(
        [
            "p.yaml:4:14: 'training.optimizer' must be one of adamw, adamw_8bit, got 'adamw8bit' (did you mean 'adamw_8bit'?)",
            "p.yaml:6:16: 'export.gguf': unknown value 'q4km'; expected one of f32, f16, bf16, q8_0, q4_0, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k (did you mean 'q4_k_m'?)",
        ], error.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void Missing_values_are_reported_where_they_belong()
    {
        Assert.Equal(
        [
            "p.yaml:1:1: missing value for 'model' (the base model: 'id: <hub repo>' or 'init: {arch: llama, size: tiny}')",
            "p.yaml:1:1: missing value for 'dataset' (the training rows: 'id: <hub dataset>' or 'file: <path.jsonl>')",
        ], Fails("name: x\n").Diagnostics.Select(d => d.ToString()));

        var error = Fails("model:\n  revision: main\ndataset:\n  file:\n");
        Assert.Equal(
        [
            "p.yaml:2:3: missing value for 'model.id' (a Hub model id such as meta-llama/Llama-3.2-1B, or 'init: {arch: llama, size: tiny}')",
            "p.yaml:4:3: missing value for 'dataset.id' (a Hub dataset id such as shibing624/medical, or 'file: datasets/medical/train.jsonl')",
        ], error.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void Contradictions_and_secrets_in_the_file_are_errors()
    {
        var error = Fails("model:\n  id: a/b\n  init: {arch: llama}\ndataset: {file: x}\npublish:\n  hub_repo: nobody\n  token: hf_abc\n");
        Assert.Equal(
        [
            "p.yaml:3:9: 'model' takes either 'id' (a Hub model) or 'init' (a tiny model made locally), not both",
            "p.yaml:6:13: 'publish.hub_repo' must look like 'owner/name', got 'nobody'",
            "p.yaml:7:10: 'publish.token' is not read from pipeline files: set the HF_TOKEN environment variable instead",
        ], error.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void A_yaml_syntax_error_has_its_position()
    {
        var d = Assert.Single(Fails("model:\n  id: a/b\n   bad: [1, 2\n").Diagnostics);
        Assert.Matches(@"^p\.yaml:\d+:\d+: YAML syntax error: ", d.ToString());
        Assert.True(d.Line >= 2);
    }

    [Fact]
    public void The_cli_prints_every_problem_as_file_line_column_without_a_stack_trace()
    {
        using var temp = new TempPipeline();
        string file = temp.WriteFile("bad.yaml", "model:\n  id: a/b\n  revison: main\ndataset:\n  file: x.jsonl\ntraining:\n  steps: abc\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(["run", "--check", "--pipeline", file], stdout, stderr);
        Assert.Equal(2, code);
        Assert.Equal(
            $"error: {file}:3:3: unknown key 'revison' in 'model' (did you mean 'revision'?)\n{file}:7:10: 'training.steps' must be an integer, got 'abc'",
            stderr.ToString().Trim().ReplaceLineEndings("\n"));
        Assert.DoesNotContain(" at ", stderr.ToString());
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public void A_missing_pipeline_file_is_one_line()
    {
        var error = Assert.Throws<SharpTuneException>(() => PipelineLoader.Load("/no/such/pipeline.yaml"));
        Assert.Equal("/no/such/pipeline.yaml: pipeline file not found", error.Message);
    }

    [Theory]
    [InlineData("revison", "revision", 1)]
    [InlineData("lerning_rate", "learning_rate", 1)]
    [InlineData("abc", "learning_rate", 12)]
    [InlineData("kitten", "sitting", 3)]
    public void Edit_distance_is_levenshtein(string a, string b, int expected) => Assert.Equal(expected, KeySuggestion.Distance(a, b));
}
