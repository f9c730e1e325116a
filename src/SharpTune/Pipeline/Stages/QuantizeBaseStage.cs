using System.Text.Json.Nodes;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// QuantizeBase: the frozen base weights in NF4 (QLoRA), written once so that training and evaluation reuse them.
/// With <c>quantize.type: none</c> it records that the base is used in 16 bits as FetchModel left it.
/// </summary>
public sealed class QuantizeBaseStage : IPipelineStage
{
    public string Name => StageNames.QuantizeBase;

    public string Description => "Quantize the base model's linear weights to NF4 (QLoRA's 4-bit base).";

    public IReadOnlyList<string> Inputs => [StageNames.FetchModel];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["quantize"] = StageSettings.ToJson(pipeline.Quantize);
        return settings;
    }

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        if (!context.Pipeline.Quantize.Enabled)
        {
            await File.WriteAllTextAsync(context.OutputPath("quantize.json"), "{\"type\":\"none\"}\n", cancellationToken).ConfigureAwait(false);
            context.Log.WriteLine("  quantize.type is none: the base stays in 16 bits");
            return;
        }

        throw new StageUnavailableException(Name, "NF4 quantization needs SharpTune.Quantization.Nf4Quantizer, which has not landed yet");
    }
}
