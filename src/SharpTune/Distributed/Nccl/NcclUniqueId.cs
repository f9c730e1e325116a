using System.Runtime.InteropServices;

namespace SharpTune.Distributed.Nccl;

/// <summary>ncclUniqueId: 128 opaque bytes rank 0 creates and every rank passes to ncclCommInitRank (by value).</summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public unsafe struct NcclUniqueId
{
    public const int Size = 128;

    private fixed byte _bytes[Size];

    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new DistributedException($"an NCCL unique id has {Size} bytes, not {bytes.Length}");
        }

        var id = default(NcclUniqueId);
        bytes.CopyTo(new Span<byte>(id._bytes, Size));
        return id;
    }

    public byte[] ToArray()
    {
        fixed (byte* p = _bytes)
        {
            return new ReadOnlySpan<byte>(p, Size).ToArray();
        }
    }
}
