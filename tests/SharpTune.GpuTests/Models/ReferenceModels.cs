using System.Text.Json;

namespace SharpTune.GpuTests.Models;

/// <summary>
/// The transformers-made reference models (tests/oracles/models_make_reference.py), made once per test run under
/// $SHARPTUNE_MODEL_REFERENCE (default: REPO/out/model-reference) unless already there.
/// </summary>
public sealed class ReferenceModels
{
    public ReferenceModels()
    {
        Root = Environment.GetEnvironmentVariable("SHARPTUNE_MODEL_REFERENCE") is { Length: > 0 } dir
            ? dir
            : Path.Combine(PythonOracle.RepositoryRoot, "out", "model-reference");
        string manifest = Path.Combine(Root, "tiny", "manifest.json");
        if (!File.Exists(manifest))
        {
            PythonOracle.Run("models_make_reference.py", "--out", Root);
        }

        using var document = JsonDocument.Parse(File.ReadAllText(manifest));
        Tiny = document.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("path").GetString()!);
    }

    public string Root { get; }

    /// <summary>Variant name -> model directory.</summary>
    public IReadOnlyDictionary<string, string> Tiny { get; }

    /// <summary>The Llama-3-8B-shaped checkpoint (made with --with-8b), or null.</summary>
    public string? Llama8B => File.Exists(Path.Combine(Root, "llama3-8b", "model.safetensors.index.json")) ? Path.Combine(Root, "llama3-8b") : null;

    /// <summary>The variants models_make_reference.py writes.</summary>
    public static readonly string[] VariantNames =
        ["llama3_untied", "llama_tied_bias", "mistral_window8", "qwen2_untied", "qwen2_tied", "qwen3_tied_headdim32", "qwen3_untied_bias"];
}
