namespace SharpTune.Gguf;

/// <summary>Settings of a GGUF export beyond the file type.</summary>
public sealed record GgufExportOptions
{
    /// <summary><c>general.name</c>; default: the model directory's name.</summary>
    public string? Name { get; init; }

    /// <summary>Threads that quantize rows; default: all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Values converted per chunk (memory bound of the conversion, about 4 bytes each plus the output).</summary>
    public int ChunkValues { get; init; } = 1 << 23;
}
