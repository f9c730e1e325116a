using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

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

        throw new StageUnavailableException(Name, "NF4 quantization of a model folder needs SharpTune.Quantization.QuantizedBaseModel, which has not landed yet (quantize.type: none trains on the 16-bit base)");
    }

}
