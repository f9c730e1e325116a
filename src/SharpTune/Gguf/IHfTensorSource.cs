namespace SharpTune.Gguf;

/// <summary>
/// Named tensors of a Hugging Face checkpoint, read as float32 a slice at a time (so export never holds a whole
/// model). <see cref="SafetensorsTensorSource"/> implements it over <c>*.safetensors</c> files.
/// </summary>
public interface IHfTensorSource : IDisposable
{
    /// <summary>Where the tensors come from (for messages).</summary>
    string Description { get; }

    IReadOnlyCollection<string> Names { get; }

    /// <summary>The tensor's shape in PyTorch order (rows first) and its stored dtype ("F32", "BF16", ...).</summary>
    (IReadOnlyList<long> Shape, string DType) Describe(string name);

    /// <summary>Reads <paramref name="destination"/>.Length values starting at element <paramref name="firstElement"/>.</summary>
    void ReadFloat32(string name, long firstElement, Span<float> destination);
}
