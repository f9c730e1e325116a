using System.Runtime.InteropServices;

namespace SharpTune.Runtime;

/// <summary>
/// PyTorch's CUDA caching allocator reads <c>PYTORCH_CUDA_ALLOC_CONF</c> from the native environment when it starts.
/// SharpTune asks for expandable segments unless the user set the variable (to anything, even empty): training
/// allocates many tensors of changing sizes (recomputed layers, loss chunks, dequantized weights), and fixed-size
/// segments leave gigabytes reserved but unusable. <see cref="Environment.SetEnvironmentVariable(string, string)"/> does
/// not reach native code on Linux, so this calls the C library.
/// </summary>
public static partial class CudaAllocatorSettings
{
    public const string Variable = "PYTORCH_CUDA_ALLOC_CONF";

    public const string Default = "expandable_segments:True";

    /// <summary>Sets <see cref="Default"/> in the native environment unless the variable exists; returns the value in effect.</summary>
    public static string ApplyDefault()
    {
        if (Read() is { } existing)
        {
            return existing;
        }

        if (SetEnv(Variable, Default, 0) != 0)
        {
            throw new InvalidOperationException($"setenv({Variable}) failed with errno {Marshal.GetLastPInvokeError()}");
        }

        return Default;
    }

    /// <summary>The variable as native code sees it; null when unset.</summary>
    public static string? Read() => Marshal.PtrToStringUTF8(GetEnv(Variable));

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
