using SharpTune.Lora;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>Base model + LoRA adapter merged into a 16-bit Hugging Face model folder (for evaluation and GGUF export).</summary>
public static class AdapterMerge
{
    private const string DoneMarker = ".merged";

    /// <summary>Merges into <paramref name="outputDirectory"/> (reused when an earlier attempt finished it) and returns it.</summary>
    public static string Merge(string baseDirectory, string adapterDirectory, string outputDirectory, StageContext context)
    {
        if (File.Exists(Path.Combine(outputDirectory, DoneMarker)))
        {
            return outputDirectory;
        }

        if (Directory.Exists(outputDirectory))
        {
            Directory.Delete(outputDirectory, recursive: true);
        }

        Runtime.TorchRuntime.Initialize(context.Runtime);
        var result = LoraMerger.Merge(baseDirectory, adapterDirectory, outputDirectory, progress: context.Progress);
        File.WriteAllText(Path.Combine(outputDirectory, DoneMarker), "");
        context.Log.WriteLine($"  merged {result.MergedModules} adapted projections into the base ({result.DType})");
        return outputDirectory;
    }
}
