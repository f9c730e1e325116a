namespace SharpTune.Gguf;

/// <summary>
/// Converts float rows to one ggml type and back, block by block. Quantizers follow llama.cpp's reference
/// (non-imatrix) quantizers bit for bit, so files are interchangeable with <c>llama-quantize</c>'s; dequantizers follow
/// the format's definition.
/// </summary>
public abstract class GgmlBlockCodec
{
    public abstract GgmlType Type { get; }

    /// <summary>Values per block.</summary>
    public abstract int BlockElements { get; }

    /// <summary>Bytes per block.</summary>
    public abstract int BlockBytes { get; }

    /// <summary>Encodes <paramref name="source"/> (a whole number of blocks) into <paramref name="destination"/>.</summary>
    public virtual void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        int blocks = CheckSizes(source.Length, destination.Length);
        for (int b = 0; b < blocks; b++)
        {
            QuantizeBlock(source.Slice(b * BlockElements, BlockElements), destination.Slice(b * BlockBytes, BlockBytes));
        }
    }

    /// <summary>Decodes <paramref name="source"/> (a whole number of blocks) into <paramref name="destination"/>.</summary>
    public virtual void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int blocks = CheckSizes(destination.Length, source.Length);
        for (int b = 0; b < blocks; b++)
        {
            DequantizeBlock(source.Slice(b * BlockBytes, BlockBytes), destination.Slice(b * BlockElements, BlockElements));
        }
    }

    protected abstract void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block);

    protected abstract void DequantizeBlock(ReadOnlySpan<byte> block, Span<float> y);

    protected int CheckSizes(int values, int bytes)
    {
        if (values % BlockElements != 0)
        {
            throw new ArgumentException($"{Type} works on blocks of {BlockElements} values; got {values}");
        }

        int blocks = values / BlockElements;
        if ((long)blocks * BlockBytes != bytes)
        {
            throw new ArgumentException($"{blocks} blocks of {Type} take {(long)blocks * BlockBytes} bytes; got {bytes}");
        }

        return blocks;
    }
}
