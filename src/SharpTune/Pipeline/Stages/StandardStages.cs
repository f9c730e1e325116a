using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>The stage graph of every SharpTune pipeline.</summary>
public static class StandardStages
{
    public static StageGraph Create() => new(
    [
        new FetchModelStage(),
        new FetchDatasetStage(),
        new QuantizeBaseStage(),
        new FormatPromptsStage(),
        new TrainLoraStage(),
        new EvaluateStage(),
        new ExportGgufStage(),
        new PublishStage(),
    ]);
}
