namespace SharpTune.Pipeline.Config;

/// <summary>GGUF files to write from the merged model (llama.cpp type names) and whether to write an Ollama Modelfile.</summary>
public sealed record ExportSettings(IReadOnlyList<string> GgufTypes, bool OllamaModelfile)
{
    public static IReadOnlyList<string> KnownTypes => Gguf.GgufFileTypes.Names;

    internal static ExportSettings Read(YamlSection section)
    {
        var types = section.StringList("gguf", ["q8_0"], KnownTypes);
        var settings = new ExportSettings(types, section.Bool("ollama", true));
        section.Finish();
        return settings;
    }

    public bool Equals(ExportSettings? other) =>
        other is not null && OllamaModelfile == other.OllamaModelfile && GgufTypes.SequenceEqual(other.GgufTypes);

    public override int GetHashCode() => HashCode.Combine(OllamaModelfile, string.Join(",", GgufTypes));
}
