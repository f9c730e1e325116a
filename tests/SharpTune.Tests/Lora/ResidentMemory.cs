using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SharpTune.Tests.Lora;

/// <summary>
/// The process's resident memory, read so that it shows what is held: pending finalizers run first (earlier tests'
/// tensors), and glibc returns its freed heap memory to the system (malloc_trim), so memory freed before the reading
/// cannot be given back in the middle of a measurement.
/// </summary>
internal static class ResidentMemory
{
    public static long Bytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        try
        {
            _ = MallocTrim(0);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc: nothing to trim.
        }

        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    // A blittable call in a test project without unsafe code: DllImport rather than the LibraryImport generator.
    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
