using System.Runtime.InteropServices;

namespace SharpTune.Kernels.Cuda;

/// <summary>NVRTC, CUDA's runtime compiler. Loaded by full path through <see cref="CudaLibraryLocator"/>.</summary>
internal static unsafe class NvrtcNative
{
    public const int Success = 0;

    public static delegate* unmanaged<int*, int*, int> Version;
    public static delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> CreateProgram;
    public static delegate* unmanaged<nint, int, byte**, int> CompileProgram;
    public static delegate* unmanaged<nint, nuint*, int> GetCubinSize;
    public static delegate* unmanaged<nint, byte*, int> GetCubin;
    public static delegate* unmanaged<nint, nuint*, int> GetProgramLogSize;
    public static delegate* unmanaged<nint, byte*, int> GetProgramLog;
    public static delegate* unmanaged<nint*, int> DestroyProgram;
    public static delegate* unmanaged<int, byte*> GetErrorString;

    private static nint _handle;

    public static void Bind(string path)
    {
        if (_handle != 0)
        {
            return;
        }

        nint handle = NativeLibrary.Load(path);
        Version = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(handle, "nvrtcVersion");
        CreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(handle, "nvrtcCreateProgram");
        CompileProgram = (delegate* unmanaged<nint, int, byte**, int>)NativeLibrary.GetExport(handle, "nvrtcCompileProgram");
        GetCubinSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(handle, "nvrtcGetCUBINSize");
        GetCubin = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(handle, "nvrtcGetCUBIN");
        GetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(handle, "nvrtcGetProgramLogSize");
        GetProgramLog = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(handle, "nvrtcGetProgramLog");
        DestroyProgram = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(handle, "nvrtcDestroyProgram");
        GetErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(handle, "nvrtcGetErrorString");
        _handle = handle;
    }

    public static string ErrorText(int result) => Marshal.PtrToStringUTF8((nint)GetErrorString(result)) ?? $"NVRTC error {result}";
}
