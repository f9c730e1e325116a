using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;
using SharpTune.Quantization;
using SharpTune.Training;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// QuantizeBase: the base model with its seven decoder projections in NF4 (QLoRA's 4-bit base; bitsandbytes'
/// layout, double-quantized scales), written once as <c>model/</c> so that training reuses it. With
/// <c>quantize.type: none</c> it only records that training uses the 16-bit base from FetchModel.
/// </summary>
public sealed class QuantizeBaseStage : IPipelineStage
{
    public const string ModelFolder = "model";

    public string Name => StageNames.QuantizeBase;

    public string Description => "Quantize the base model's linear weights to NF4 (QLoRA's 4-bit base).";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["quantize"] = StageSettings.ToJson(pipeline.Quantize);
        if (pipeline.Quantize.Enabled)
        {
            // Non-projection weights are stored in the compute dtype, which follows the device and precision.
            settings["device"] = pipeline.Training.Device;
            settings["precision"] = pipeline.Training.Precision;
        }

        return settings;
    }

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        if (!context.Pipeline.Quantize.Enabled)
        {
            await File.WriteAllTextAsync(context.OutputPath("quantize.json"), "{\"type\":\"none\"}\n", cancellationToken).ConfigureAwait(false);
            context.Log.WriteLine("  quantize.type is none: training uses the 16-bit base");
            return;
        }

        string source = context.Input(StageNames.FetchModel).Output("model")!;
        Runtime.TorchRuntime.Initialize(context.Runtime);
        var device = TrainingRun.ResolveDevice(context.Pipeline.Training.Device);
        var dtype = TrainingRun.ResolveDType(context.Pipeline.Training.Precision, device);
        string target = Path.Combine(context.OutputDirectory, ModelFolder);
        using (var model = QuantizedBaseModel.QuantizeWhileLoading(source, dtype, device, context.Pipeline.Quantize.DoubleQuant, context.Progress))
        {
            QuantizedBaseModel.Save(model, target, source);
        }

        context.AddOutput("model", ModelFolder);
        context.Log.WriteLine($"  NF4 base ({(context.Pipeline.Quantize.DoubleQuant ? "double-quantized" : "plain")} scales), other weights {dtype}: {ArtifactSize(target)}");
    }

    private static string ArtifactSize(string directory) =>
        $"{Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / (double)(1 << 20):0.0} MiB";
}
