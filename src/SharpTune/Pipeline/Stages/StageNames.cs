namespace SharpTune.Pipeline.Stages;

/// <summary>The stages of a SharpTune pipeline, also the names of their Cake tasks.</summary>
public static class StageNames
{
    public const string FetchModel = nameof(FetchModel);
    public const string FetchDataset = nameof(FetchDataset);
    public const string FormatPrompts = nameof(FormatPrompts);
    public const string QuantizeBase = nameof(QuantizeBase);
    public const string TrainLoRA = nameof(TrainLoRA);
    public const string Evaluate = nameof(Evaluate);
    public const string ExportGguf = nameof(ExportGguf);
    public const string Publish = nameof(Publish);

    /// <summary>All stages in an order that runs each after its inputs.</summary>
    public static readonly IReadOnlyList<string> All = [FetchModel, FetchDataset, QuantizeBase, FormatPrompts, TrainLoRA, Evaluate, ExportGguf, Publish];
}
