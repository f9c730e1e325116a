using System.Text.Json;
using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>
/// The weights of a Hugging Face model directory: either one <c>model.safetensors</c> or shards listed by
/// <c>model.safetensors.index.json</c> (its <c>weight_map</c>: tensor name -> shard file). Every shard is opened
/// (memory-mapped, header validated) up front, and every name in the index must be in its shard.
/// </summary>
public sealed class CheckpointDirectory : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafetensorsFile> _fileOfTensor;
    private readonly List<SafetensorsFile> _files;
    private readonly PinnedStaging _staging = new();

    private CheckpointDirectory(string directory, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOfTensor, bool sharded)
    {
        Directory = directory;
        _files = files;
        _fileOfTensor = fileOfTensor;
        IsSharded = sharded;
    }

    public string Directory { get; }

    public bool IsSharded { get; }

    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>Every tensor name, in file order.</summary>
    public IEnumerable<string> TensorNames => _files.SelectMany(f => f.Tensors.Select(t => t.Name)).Where(_fileOfTensor.ContainsKey);

    /// <summary>True if the directory holds safetensors weights (single or sharded).</summary>
    public static bool Exists(string directory) =>
        File.Exists(System.IO.Path.Combine(directory, IndexFileName)) || File.Exists(System.IO.Path.Combine(directory, SingleFileName));

    public static CheckpointDirectory Open(string directory)
    {
        string index = System.IO.Path.Combine(directory, IndexFileName);
        if (File.Exists(index))
        {
            return OpenSharded(directory, index);
        }

        string single = System.IO.Path.Combine(directory, SingleFileName);
        if (!File.Exists(single))
        {
            throw new SharpTuneException($"{directory}: no {SingleFileName} or {IndexFileName} (only safetensors checkpoints are supported)");
        }

        var file = SafetensorsFile.Open(single);
        return new CheckpointDirectory(directory, [file], file.Tensors.ToDictionary(t => t.Name, _ => file, StringComparer.Ordinal), sharded: false);
    }

    public bool Contains(string name) => _fileOfTensor.ContainsKey(name);

    public SafetensorsTensorInfo Info(string name) => FileOf(name).Info(name);

    /// <summary>The shard that holds <paramref name="name"/>.</summary>
    public SafetensorsFile FileOf(string name) =>
        _fileOfTensor.TryGetValue(name, out var file) ? file : throw new SharpTuneException($"{Directory}: the checkpoint has no tensor '{name}'");

    /// <inheritdoc cref="SafetensorsFile.ReadTensor"/>
    /// <remarks>Tensors bound for a GPU go through a reused pinned host buffer (see <see cref="PinnedStaging"/>).</remarks>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null) => FileOf(name).ReadTensor(name, dtype, device, _staging);

    /// <inheritdoc cref="SafetensorsFile.GetBytes"/>
    public ReadOnlySpan<byte> GetBytes(string name) => FileOf(name).GetBytes(name);

    private static CheckpointDirectory OpenSharded(string directory, string index)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(index));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SharpTuneException($"{index}: no 'weight_map' object");
            }

            weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SharpTuneException($"{index}: weight_map entry '{entry.Name}' is not a file name");
                }

                weightMap[entry.Name] = entry.Value.GetString()!;
            }
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{index}: not valid JSON ({e.Message.Split('\n')[0]})");
        }

        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var fileOfTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, fileName) in weightMap)
            {
                if (fileName.Contains('/') || fileName.Contains('\\') || fileName.StartsWith('.'))
                {
                    throw new SharpTuneException($"{index}: tensor '{tensor}' names shard '{fileName}' outside the model directory");
                }

                if (!files.TryGetValue(fileName, out var file))
                {
                    string path = System.IO.Path.Combine(directory, fileName);
                    if (!File.Exists(path))
                    {
                        throw new SharpTuneException($"{index}: tensor '{tensor}' is in shard '{fileName}', which is missing");
                    }

                    file = SafetensorsFile.Open(path);
                    files[fileName] = file;
                }

                if (!file.Contains(tensor))
                {
                    throw new SharpTuneException($"{file.Path}: the index says it holds tensor '{tensor}', but it does not");
                }

                fileOfTensor[tensor] = file;
            }
        }
        catch
        {
            foreach (var file in files.Values)
            {
                file.Dispose();
            }

            throw;
        }

        var ordered = files.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList();
        return new CheckpointDirectory(directory, ordered, fileOfTensor, sharded: true);
    }

    public void Dispose()
    {
        _staging.Dispose();
        foreach (var file in _files)
        {
            file.Dispose();
        }
    }
}
