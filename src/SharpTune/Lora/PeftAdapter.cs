using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Models.Checkpoint;
using static TorchSharp.torch;

namespace SharpTune.Lora;

/// <summary>
/// LoRA adapters in Hugging Face PEFT's on-disk format: <c>adapter_config.json</c> (PEFT's <c>LoraConfig</c> fields)
/// and <c>adapter_model.safetensors</c> with keys like
/// <c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c> (A [r, in], B [out, r]), so PEFT's
/// <c>PeftModel.from_pretrained</c> loads ours and we load PEFT's.
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";
    public const string KeyPrefix = "base_model.model.";

    /// <summary>An adapter read from disk: its config and, per module path ("model.layers.0.self_attn.q_proj"), A and B (CPU, float32).</summary>
    public sealed record Loaded(LoraConfig Config, IReadOnlyDictionary<string, (Tensor A, Tensor B)> Modules) : IDisposable
    {
        public void Dispose()
        {
            foreach (var (a, b) in Modules.Values)
            {
                a.Dispose();
                b.Dispose();
            }
        }
    }

    /// <summary>PEFT's key of a LoRA matrix: <c>base_model.model.{modulePath}.lora_{A|B}.weight</c>.</summary>
    public static string Key(string modulePath, char matrix) => $"{KeyPrefix}{modulePath}.lora_{matrix}.weight";

    /// <summary>Writes the adapter (weights in <paramref name="dtype"/>, default float32) into <paramref name="directory"/>.</summary>
    public static void Save(string directory, LoraConfig config, IEnumerable<(string ModulePath, LoraLinear Layer)> modules, ScalarType dtype = ScalarType.Float32)
    {
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        var writer = new SafetensorsWriter();
        foreach (var (path, layer) in modules)
        {
            writer.Add(Key(path, 'A'), layer.LoraA.detach().to(dtype, CPU).contiguous());
            writer.Add(Key(path, 'B'), layer.LoraB.detach().to(dtype, CPU).contiguous());
        }

        writer.Write(Path.Combine(directory, WeightsFileName));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFileName), ConfigJson(config).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>PEFT's adapter_config.json for <paramref name="config"/>.</summary>
    public static JsonObject ConfigJson(LoraConfig config) => new()
    {
        ["alpha_pattern"] = new JsonObject(),
        ["auto_mapping"] = null,
        ["base_model_name_or_path"] = config.BaseModelNameOrPath,
        ["bias"] = "none",
        ["fan_in_fan_out"] = false,
        ["inference_mode"] = true,
        ["init_lora_weights"] = true,
        ["layers_pattern"] = null,
        ["layers_to_transform"] = null,
        ["lora_alpha"] = config.Alpha,
        ["lora_dropout"] = config.Dropout,
        ["modules_to_save"] = null,
        ["peft_type"] = "LORA",
        ["r"] = config.Rank,
        ["rank_pattern"] = new JsonObject(),
        ["revision"] = null,
        ["target_modules"] = new JsonArray([.. config.TargetModules.Select(t => (JsonNode)t)]),
        ["task_type"] = "CAUSAL_LM",
        ["use_dora"] = false,
        ["use_rslora"] = config.UseRsLora,
    };

    /// <summary>Reads an adapter directory written by PEFT or by <see cref="Save"/>.</summary>
    public static Loaded Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFileName);
        string weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(configPath))
        {
            throw new SharpTuneException($"{directory}: not a PEFT adapter ({ConfigFileName} is missing)");
        }

        if (!File.Exists(weightsPath))
        {
            throw new SharpTuneException($"{directory}: {WeightsFileName} is missing (adapter_model.bin from old PEFT versions is not supported)");
        }

        var config = ParseConfig(File.ReadAllText(configPath), configPath);
        using var file = SafetensorsFile.Open(weightsPath);
        var a = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var b = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            string name = info.Name;
            // PEFT saves without the adapter name; some tools keep ".default".
            string normalized = name.Replace(".lora_A.default.weight", ".lora_A.weight", StringComparison.Ordinal)
                .Replace(".lora_B.default.weight", ".lora_B.weight", StringComparison.Ordinal);
            if (!normalized.StartsWith(KeyPrefix, StringComparison.Ordinal) || !(normalized.EndsWith(".lora_A.weight", StringComparison.Ordinal) || normalized.EndsWith(".lora_B.weight", StringComparison.Ordinal)))
            {
                throw new SharpTuneException($"{weightsPath}: tensor '{name}' is not a LoRA A/B matrix (only LoRA adapters without modules_to_save are supported)");
            }

            string modulePath = normalized[KeyPrefix.Length..^".lora_A.weight".Length];
            var target = normalized.EndsWith(".lora_A.weight", StringComparison.Ordinal) ? a : b;
            target[modulePath] = file.ReadTensor(name, ScalarType.Float32, CPU).DetachFromDisposeScope();
        }

        var modules = new Dictionary<string, (Tensor A, Tensor B)>(StringComparer.Ordinal);
        foreach (var (path, matrixA) in a)
        {
            if (!b.TryGetValue(path, out var matrixB))
            {
                throw new SharpTuneException($"{weightsPath}: '{path}' has lora_A but no lora_B");
            }

            if (matrixA.shape[0] != config.Rank || matrixB.shape[1] != config.Rank)
            {
                throw new SharpTuneException($"{weightsPath}: '{path}' has rank {matrixA.shape[0]}, adapter_config.json says r={config.Rank}");
            }

            modules[path] = (matrixA, matrixB);
        }

        if (b.Keys.FirstOrDefault(k => !a.ContainsKey(k)) is { } orphan)
        {
            throw new SharpTuneException($"{weightsPath}: '{orphan}' has lora_B but no lora_A");
        }

        return new Loaded(config, modules);
    }

    /// <summary>Reads PEFT's adapter_config.json fields into a <see cref="LoraConfig"/>.</summary>
    public static LoraConfig ParseConfig(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new SharpTuneException($"{source}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{source}: invalid JSON: {e.Message}");
        }

        string peftType = root["peft_type"]?.GetValue<string>() ?? "LORA";
        if (!string.Equals(peftType, "LORA", StringComparison.OrdinalIgnoreCase))
        {
            throw new SharpTuneException($"{source}: peft_type is {peftType}; only LORA adapters are supported");
        }

        if (root["use_dora"]?.GetValue<bool>() == true)
        {
            throw new SharpTuneException($"{source}: DoRA adapters (use_dora: true) are not supported");
        }

        if (root["rank_pattern"] is JsonObject ranks && ranks.Count > 0 || root["alpha_pattern"] is JsonObject alphas && alphas.Count > 0)
        {
            throw new SharpTuneException($"{source}: per-module rank_pattern/alpha_pattern is not supported");
        }

        int rank = root["r"]?.GetValue<int>() ?? throw new SharpTuneException($"{source}: field 'r' is missing");
        double alpha = root["lora_alpha"] is { } a ? double.Parse(a.ToJsonString(), CultureInfo.InvariantCulture) : rank;
        double dropout = root["lora_dropout"] is { } d ? double.Parse(d.ToJsonString(), CultureInfo.InvariantCulture) : 0;
        var targets = root["target_modules"] switch
        {
            JsonArray array => array.Select(t => t!.GetValue<string>()).ToArray(),
            JsonValue value => [value.GetValue<string>()],
            _ => LoraConfig.AllTargets.ToArray(),
        };
        return new LoraConfig
        {
            Rank = rank,
            Alpha = alpha,
            Dropout = dropout,
            TargetModules = LoraConfig.NormalizeTargets(targets.Select(t => t.Split('.').Last())),
            UseRsLora = root["use_rslora"]?.GetValue<bool>() ?? false,
            BaseModelNameOrPath = root["base_model_name_or_path"]?.GetValue<string>(),
        };
    }
}
