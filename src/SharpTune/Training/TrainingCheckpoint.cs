using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// A resumable snapshot of training after <see cref="Step"/> optimizer steps, one directory
/// <c>checkpoint-000050/</c>: <c>trainable.bin</c> (the trainable weights), <c>optimizer.bin</c> (moments and step
/// count), <c>trainer_state.json</c> (step, loss scale, libtorch's CPU generator state) and <c>adapter/</c> (the
/// weights as a loadable adapter). Written into a temp directory and renamed, so a directory with that name is always
/// complete. Data order and dropout are functions of (seed, step), so nothing else is needed to continue exactly.
/// </summary>
public static partial class TrainingCheckpoint
{
    private const string StateFile = "trainer_state.json";

    public sealed record State(int Step, double LossScale, int LossScaleGoodSteps, int Seed);

    /// <summary>Writes a checkpoint of <paramref name="step"/> into <paramref name="outputDir"/>; returns its directory.</summary>
    public static string Save(string outputDir, int step, ITrainableCausalLM model, AdamWOptimizer optimizer, LossScaler scaler, int seed)
    {
        string final = Path.Combine(outputDir, DirectoryName(step));
        string temp = Path.Combine(outputDir, "." + DirectoryName(step) + ".tmp");
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        Directory.CreateDirectory(temp);
        using (var scope = NewDisposeScope())
        {
            NamedTensorFile.Write(Path.Combine(temp, "trainable.bin"), model.TrainableParameters.ToDictionary(p => p.Name, p => (Tensor)p.Parameter));
            NamedTensorFile.Write(Path.Combine(temp, "optimizer.bin"), optimizer.ExportState());
            NamedTensorFile.Write(Path.Combine(temp, "rng.bin"), new Dictionary<string, Tensor> { ["cpu"] = get_rng_state() });
        }

        model.SaveAdapter(Path.Combine(temp, "adapter"));
        File.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(new State(step, scaler.Scale, scaler.GoodSteps, seed)));
        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }

        Directory.Move(temp, final);
        return final;
    }

    /// <summary>The newest complete checkpoint directory in <paramref name="outputDir"/>, or null.</summary>
    public static string? FindLatest(string outputDir) =>
        !Directory.Exists(outputDir) ? null
        : Directory.EnumerateDirectories(outputDir)
            .Select(d => (Dir: d, Match: NamePattern().Match(Path.GetFileName(d))))
            .Where(x => x.Match.Success && File.Exists(Path.Combine(x.Dir, StateFile)))
            .OrderByDescending(x => int.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture))
            .Select(x => x.Dir)
            .FirstOrDefault();

    /// <summary>Loads a checkpoint into the model's trainable weights, the optimizer and the scaler; returns its state.</summary>
    public static State Load(string directory, ITrainableCausalLM model, AdamWOptimizer optimizer, LossScaler scaler)
    {
        var state = JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(directory, StateFile)))
            ?? throw new SharpTuneException($"{directory}: {StateFile} is empty");
        var weights = NamedTensorFile.Read(Path.Combine(directory, "trainable.bin"));
        var moments = NamedTensorFile.Read(Path.Combine(directory, "optimizer.bin"));
        var rng = NamedTensorFile.Read(Path.Combine(directory, "rng.bin"));
        try
        {
            using var noGrad = no_grad();
            foreach (var (name, parameter) in model.TrainableParameters)
            {
                if (!weights.TryGetValue(name, out var value))
                {
                    throw new SharpTuneException($"{directory}: trainable.bin has no '{name}' (a checkpoint of a different model or LoRA setup?)");
                }

                if (!value.shape.SequenceEqual(parameter.shape))
                {
                    throw new SharpTuneException($"{directory}: '{name}' has shape [{string.Join(", ", value.shape)}], the model expects [{string.Join(", ", parameter.shape)}]");
                }

                parameter.copy_(value);
            }

            optimizer.ImportState(moments);
            set_rng_state(rng["cpu"]);
            scaler.Restore(state.LossScale, state.LossScaleGoodSteps);
            return state;
        }
        finally
        {
            foreach (var t in weights.Values.Concat(moments.Values).Concat(rng.Values))
            {
                t.Dispose();
            }
        }
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints (0 keeps all).</summary>
    public static void Prune(string outputDir, int keep)
    {
        if (keep <= 0)
        {
            return;
        }

        var all = Directory.EnumerateDirectories(outputDir)
            .Select(d => (Dir: d, Match: NamePattern().Match(Path.GetFileName(d))))
            .Where(x => x.Match.Success)
            .OrderByDescending(x => int.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture))
            .Skip(keep);
        foreach (var (dir, _) in all)
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static string DirectoryName(int step) => $"checkpoint-{step:D6}";

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex NamePattern();
}
