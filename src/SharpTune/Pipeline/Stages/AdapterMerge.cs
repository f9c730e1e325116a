using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>Base model + LoRA adapter merged into a 16-bit Hugging Face model folder (for evaluation and GGUF export).</summary>
public static class AdapterMerge
{
    /// <summary>Merges into <paramref name="outputDirectory"/> (reused when an earlier attempt finished it) and returns it.</summary>
    public static string Merge(string baseDirectory, string adapterDirectory, string outputDirectory, StageContext context) =>
        throw new StageUnavailableException(context.Stage, "merging the adapter into the base needs SharpTune.Lora.LoraMerger, which has not landed yet");
}
