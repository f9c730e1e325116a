using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpTune.Pipeline.Config;

/// <summary>
/// Reads pipeline YAML files into a <see cref="PipelineDefinition"/>: unknown keys (with a "did you mean"),
/// wrong types and missing values are all reported at once as <c>file:line:column: message</c> lines in a
/// <see cref="PipelineConfigException"/>.
/// </summary>
public static partial class PipelineLoader
{
    /// <summary>How the built-in default pipeline is named in messages and manifests.</summary>
    public const string EmbeddedDefaultName = "(embedded default pipeline)";

    private const string EmbeddedResourceName = "SharpTune.Pipeline.default.yaml";

    /// <summary>Loads <paramref name="path"/>, or the embedded default when it is null.</summary>
    public static PipelineDefinition Load(string? path)
    {
        if (path is null)
        {
            return Parse(EmbeddedDefaultText(), EmbeddedDefaultName);
        }

        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: pipeline file not found");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>The text of the default pipeline built into the library (pipelines/default.yaml).</summary>
    public static string EmbeddedDefaultText()
    {
        using var stream = typeof(PipelineLoader).Assembly.GetManifestResourceStream(EmbeddedResourceName)
            ?? throw new InvalidOperationException($"resource {EmbeddedResourceName} is missing from {typeof(PipelineLoader).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public static PipelineDefinition Parse(string text, string fileName)
    {
        var reader = new ConfigReader(fileName);
        var rootNode = reader.ParseRoot(text);
        if (rootNode is null)
        {
            reader.ThrowIfAny();
            throw new InvalidOperationException("unreachable");
        }

        var root = new YamlSection(reader, rootNode, "");
        string name = root.String("name", Path.GetFileNameWithoutExtension(fileName) is { Length: > 0 } stem && fileName != EmbeddedDefaultName ? stem : "default");
        if (!NamePattern().IsMatch(name))
        {
            root.Error("name", $"'name' must be letters, digits, '.', '_' or '-' (it names a folder), got '{name}'");
        }

        string output = root.String("output", $"out/{name}");
        string? cache = root.OptionalString("cache");

        var modelSection = root.Section("model");
        if (modelSection is null)
        {
            root.MissingValue("model", "the base model: 'id: <hub repo>' or 'init: {arch: llama, size: tiny}'");
        }

        var datasetSection = root.Section("dataset");
        if (datasetSection is null)
        {
            root.MissingValue("dataset", "the training rows: 'id: <hub dataset>' or 'file: <path.jsonl>'");
        }

        var model = modelSection is null ? new ModelSettings(null, "main", null, null) : ModelSettings.Read(modelSection);
        var dataset = datasetSection is null ? new DatasetSettings(null, null, "train", null, null, 0) : DatasetSettings.Read(datasetSection);
        var prompt = PromptSettings.Read(root.SectionOrEmpty("prompt"));
        var quantize = QuantizeSettings.Read(root.SectionOrEmpty("quantize"));
        var lora = LoraSettings.Read(root.SectionOrEmpty("lora"));
        var training = TrainingSettings.Read(root.SectionOrEmpty("training"));
        var evaluate = EvaluateSettings.Read(root.SectionOrEmpty("evaluate"));
        var export = ExportSettings.Read(root.SectionOrEmpty("export"));
        var publish = PublishSettings.Read(root.SectionOrEmpty("publish"));
        root.Finish();
        reader.ThrowIfAny();

        string sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        return new PipelineDefinition(name, fileName, sha, model, dataset, prompt, quantize, lora, training, evaluate, export, publish, output, cache);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();
}
