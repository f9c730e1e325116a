using System.Buffers.Binary;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// One shard file of a tokenized dataset, little-endian: magic "STTK", int32 version (1), int32 sample count n,
/// int64 token offsets[n + 1], int32 token ids[total], uint8 completion mask[total].
/// </summary>
internal static class TokenizedShard
{
    private const uint Magic = 0x4B545453; // "STTK"
    private const int Version = 1;

    public static void Write(string path, IReadOnlyList<TokenizedSample> samples)
    {
        long total = samples.Sum(s => (long)s.Length);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new BinaryWriter(stream);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(samples.Count);
        long offset = 0;
        writer.Write(offset);
        foreach (var sample in samples)
        {
            offset += sample.Length;
            writer.Write(offset);
        }

        foreach (var sample in samples)
        {
            foreach (int id in sample.InputIds)
            {
                writer.Write(id);
            }
        }

        foreach (var sample in samples)
        {
            writer.Write(sample.CompletionMask);
        }

        if (offset != total)
        {
            throw new InvalidOperationException("token count changed while writing");
        }
    }

    public static TokenizedSample[] Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        if (span.Length < 12 || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic)
        {
            throw new SharpTuneException($"{path}: not a SharpTune tokenized shard");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        if (version != Version)
        {
            throw new SharpTuneException($"{path}: shard version {version} is not supported (expected {Version})");
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        int position = 12;
        var offsets = new long[count + 1];
        for (int i = 0; i <= count; i++, position += 8)
        {
            offsets[i] = BinaryPrimitives.ReadInt64LittleEndian(span[position..]);
        }

        long total = offsets[count];
        if (span.Length != position + total * 5)
        {
            throw new SharpTuneException($"{path}: truncated or corrupt shard ({span.Length} bytes, expected {position + total * 5})");
        }

        int idsStart = position;
        int maskStart = checked(idsStart + (int)total * 4);
        var samples = new TokenizedSample[count];
        for (int i = 0; i < count; i++)
        {
            int start = (int)offsets[i];
            int length = (int)(offsets[i + 1] - offsets[i]);
            var ids = new int[length];
            for (int t = 0; t < length; t++)
            {
                ids[t] = BinaryPrimitives.ReadInt32LittleEndian(span[(idsStart + (start + t) * 4)..]);
            }

            samples[i] = new TokenizedSample(ids, span.Slice(maskStart + start, length).ToArray());
        }

        return samples;
    }
}
