using System.Buffers.Binary;
using System.Text;

namespace SharpTune.Distributed.Store;

/// <summary>
/// The rendezvous store's framing: each message is an int32 length (little-endian) and that many bytes. Inside,
/// strings are an int32 byte count and UTF-8, byte arrays an int32 count and the bytes. Frames are at most 64 MiB.
/// </summary>
internal static class StoreWire
{
    public const int MaxFrameBytes = 64 << 20;

    public static void WriteFrame(Stream stream, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length);
        stream.Write(header);
        stream.Write(payload);
        stream.Flush();
    }

    public static async Task WriteFrameAsync(Stream stream, ReadOnlyMemory<byte> payload, CancellationToken cancellation)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, payload.Length);
        await stream.WriteAsync(header, cancellation).ConfigureAwait(false);
        await stream.WriteAsync(payload, cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>Reads one frame; null at a clean end of stream before the frame started.</summary>
    public static byte[]? ReadFrame(Stream stream)
    {
        var header = new byte[4];
        if (!ReadExactly(stream, header, allowEndAtStart: true))
        {
            return null;
        }

        var payload = new byte[CheckedLength(header)];
        ReadExactly(stream, payload, allowEndAtStart: false);
        return payload;
    }

    /// <summary>Reads one frame; null at a clean end of stream before the frame started.</summary>
    public static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken cancellation)
    {
        var header = new byte[4];
        int read = await stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false, cancellation).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < 4)
        {
            throw new EndOfStreamException("the connection closed inside a frame header");
        }

        var payload = new byte[CheckedLength(header)];
        await stream.ReadExactlyAsync(payload, cancellation).ConfigureAwait(false);
        return payload;
    }

    public static void WriteString(BinaryWriter writer, string text) => WriteBytes(writer, Encoding.UTF8.GetBytes(text));

    public static void WriteBytes(BinaryWriter writer, ReadOnlySpan<byte> bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    public static string ReadString(BinaryReader reader) => Encoding.UTF8.GetString(ReadBytes(reader));

    public static byte[] ReadBytes(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > MaxFrameBytes)
        {
            throw new InvalidDataException($"bad length {count} in a store message");
        }

        return reader.ReadBytes(count);
    }

    private static int CheckedLength(ReadOnlySpan<byte> header)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length < 0 || length > MaxFrameBytes)
        {
            throw new InvalidDataException($"bad frame length {length} (not a SharpTune store peer?)");
        }

        return length;
    }

    private static bool ReadExactly(Stream stream, byte[] buffer, bool allowEndAtStart)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read == 0 && allowEndAtStart)
        {
            return false;
        }

        if (read < buffer.Length)
        {
            throw new EndOfStreamException("the connection closed inside a frame");
        }

        return true;
    }
}
