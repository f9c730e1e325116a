using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Models.Tokenization;

namespace SharpTune.Data.Tokenized;

/// <summary>What <see cref="TokenizedDatasetBuilder"/> makes a tokenized dataset from.</summary>
/// <param name="Source">The rows.</param>
/// <param name="SourceFingerprint">Identifies the source's content (e.g. its file's SHA-256; see <see cref="TokenizedDatasetBuilder.FingerprintFile"/>).</param>
/// <param name="Template">How a row becomes prompt + completion.</param>
/// <param name="Tokenizer">The model's tokenizer.</param>
/// <param name="TokenizerDirectory">Where the tokenizer files are (their content is part of the cache key).</param>
/// <param name="OutputDirectory">Where the dataset goes; reused as is when its manifest has the same key.</param>
/// <param name="MaxLength">Samples are cut to this many tokens (the reference run: 2048).</param>
/// <param name="Mapping">Template placeholders to row fields (identity by default).</param>
/// <param name="SkipBadRows">Count and skip bad rows instead of stopping at the first.</param>
public sealed record DatasetFormatOptions(
    IDataSource Source,
    string SourceFingerprint,
    IPromptTemplate Template,
    HfTokenizer Tokenizer,
    string TokenizerDirectory,
    string OutputDirectory,
    int MaxLength = 2048,
    FieldMapping? Mapping = null,
    bool SkipBadRows = false);
