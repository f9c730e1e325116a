namespace SharpTune.Gguf;

/// <summary>Constants of the GGUF container (ggml's gguf.h / docs/gguf.md).</summary>
public static class GgufFormat
{
    /// <summary>"GGUF" as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    public const uint Version = 3;

    public const uint DefaultAlignment = 32;

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>ggml's GGML_MAX_NAME: tensor names must be shorter.</summary>
    public const int MaxTensorNameBytes = 64;

    public const string AlignmentKey = "general.alignment";

    public static long Align(long offset, uint alignment) => (offset + alignment - 1) / alignment * alignment;
}
