using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SharpTune.Pipeline.Config;

/// <summary>
/// Collects the problems found while reading one pipeline file, so that all of them are reported at once with
/// their line and column.
/// </summary>
public sealed class ConfigReader
{
    private readonly List<ConfigDiagnostic> _diagnostics = [];

    public ConfigReader(string file)
    {
        File = file;
    }

    /// <summary>The file name used in messages (as the user gave it).</summary>
    public string File { get; }

    public IReadOnlyList<ConfigDiagnostic> Diagnostics => _diagnostics;

    public void Error(Mark at, string message) => _diagnostics.Add(new ConfigDiagnostic(File, (int)at.Line, (int)at.Column, message));

    public void Error(YamlNode at, string message) => Error(at.Start, message);

    /// <summary>Parses YAML text into its root mapping; a syntax error or a non-mapping root is a diagnostic.</summary>
    public YamlMappingNode? ParseRoot(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            string message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            Error(e.Start, "YAML syntax error: " + message.Trim());
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            Error(new Mark(), "the pipeline file is empty");
            return null;
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            Error(stream.Documents[0].RootNode, "a pipeline file must be a mapping of sections (name:, model:, dataset:, ...)");
            return null;
        }

        return root;
    }

    /// <summary>Throws <see cref="PipelineConfigException"/> if anything was reported.</summary>
    public void ThrowIfAny()
    {
        if (_diagnostics.Count > 0)
        {
            throw new PipelineConfigException(_diagnostics.OrderBy(d => d.Line).ThenBy(d => d.Column).ToList());
        }
    }
}
