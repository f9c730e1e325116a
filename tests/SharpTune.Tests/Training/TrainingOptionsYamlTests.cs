using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Stages;
using SharpTune.Training;

namespace SharpTune.Tests.Training;

public sealed class TrainingOptionsYamlTests
{
    [Fact]
    public void The_pipeline_gpus_setting_reaches_the_trainer_and_survives_a_yaml_round_trip()
    {
        // What the TrainLoRA stage does with gpus > 1: write its settings for `sharptune train --config` in each rank.
        var pipeline = PipelineLoader.Parse("model: {id: a/b}\ndataset: {file: x}\ntraining:\n  gpus: 2\n  batch_size: 3\n  seed: 11\n  embedding_on_host: true\n", "p.yaml");
        var options = TrainLoraStage.Options(pipeline, "/m", "/q", "/d", "/o") with { LossChunkTokens = 512, Scheduler = LearningRateScheduleKind.Cosine };
        Assert.Equal(2, options.Gpus);
        Assert.True(options.EmbeddingOnHost);
        string path = Path.Combine(Path.GetTempPath(), $"sharptune-options-{Guid.NewGuid():N}.yaml");
        try
        {
            options.SaveYaml(path);
            var read = TrainingOptions.LoadYaml(path);
            Assert.Equal(options with { TargetModules = read.TargetModules }, read);
            Assert.Equal(options.TargetModules, read.TargetModules);
            Assert.Contains("gpus: 2", File.ReadAllText(path));
            Assert.Contains("embedding_on_host: true", File.ReadAllText(path));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_pipeline_checkpoint_layers_setting_reaches_the_trainer()
    {
        PipelineDefinition Parse(string value, int gpus = 1) =>
            PipelineLoader.Parse($"model: {{id: a/b}}\ndataset: {{file: x}}\ntraining:\n  gpus: {gpus}\n  checkpoint_layers: {value}\n", "p.yaml");
        Assert.Equal("auto", TrainLoraStage.Options(Parse("auto"), "/m", null, "/d", "/o").CheckpointLayers);
        Assert.Equal(24, TrainLoraStage.Options(Parse("24"), "/m", null, "/d", "/o").CheckpointLayerCount);
        Assert.Null(TrainLoraStage.Options(Parse("all"), "/m", null, "/d", "/o").CheckpointLayers);

        var error = Assert.Throws<PipelineConfigException>(() => Parse("some"));
        Assert.Equal("p.yaml:5:22: 'training.checkpoint_layers' must be all, auto or a number of layers, got 'some'", error.Diagnostics.Single().ToString());
        error = Assert.Throws<PipelineConfigException>(() => Parse("auto", gpus: 2));
        Assert.Contains("works on one GPU", error.Diagnostics.Single().ToString());
    }

    [Fact]
    public void Gpus_out_of_range_is_an_error_naming_the_setting()
    {
        var error = Assert.Throws<PipelineConfigException>(() => PipelineLoader.Parse("model: {id: a/b}\ndataset: {file: x}\ntraining:\n  gpus: 0\n", "p.yaml"));
        Assert.Equal("p.yaml:4:9: 'training.gpus' must be between 1 and 64, got 0", error.Diagnostics.Single().ToString());
        Assert.Throws<SharpTuneException>(() => new TrainingOptions { Gpus = 0 }.Validated());
    }
}
