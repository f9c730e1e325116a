namespace SharpTune.Gguf;

/// <summary>What an export wrote: the file, its tensors with the types chosen, sizes and time taken.</summary>
public sealed record GgufExportResult(string Path, GgufFileType FileType, IReadOnlyList<GgufTensorInfo> Tensors, long FileBytes, long Parameters, TimeSpan Elapsed);
