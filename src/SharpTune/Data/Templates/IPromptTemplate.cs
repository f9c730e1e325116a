using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;

namespace SharpTune.Data.Templates;

/// <summary>Turns a dataset row into a training example (prompt and completion text).</summary>
public interface IPromptTemplate
{
    /// <summary>The template's name, e.g. <c>medical-cot</c>, <c>alpaca</c>, <c>llama3</c>.</summary>
    string Name { get; }

    /// <summary>A stable description of everything that affects the output (part of the tokenized cache's key).</summary>
    string Fingerprint { get; }

    RenderedPrompt Render(DataRecord record, FieldMapping mapping);
}
