namespace SharpTune.Data.Tokenized;

/// <summary>The outcome of formatting: where the dataset is, its statistics, and whether an existing one was reused.</summary>
public sealed record DatasetFormatResult(string Directory, TokenizedDatasetManifest Manifest, DatasetStatistics Statistics, bool Reused);
