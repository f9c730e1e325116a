using System.Runtime.InteropServices;

namespace SharpTune.Tests.Lora;

/// <summary>
/// The bytes glibc's malloc has handed out and not taken back (mallinfo2: in-use heap chunks plus mmapped chunks),
/// read after pending finalizers ran (earlier tests' tensors). libtorch's CPU tensors come from malloc; the .NET
/// garbage collector's heap does not, so its lazy decommits after a collection (which move the process's resident
/// memory in the middle of a measurement when the test suite has filled the managed heap) are not seen.
/// </summary>
internal static class NativeHeapMemory
{
    public static long Bytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var info = MallInfo2();
        return (long)(info.InUseChunks + info.MappedBytes);
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint OrdinaryBlocks;
        public readonly nuint SmallBlocks;
        public readonly nuint MappedBlocks;
        public readonly nuint MappedBytes;
        public readonly nuint MaxSmallSpace;
        public readonly nuint FreedSmallSpace;
        public readonly nuint InUseChunks;
        public readonly nuint FreeChunks;
        public readonly nuint TopReleasable;
    }

    // A blittable call in a test project without unsafe code: DllImport rather than the LibraryImport generator.
    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();
}
