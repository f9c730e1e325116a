using System.Runtime.InteropServices;

namespace SharpTune.Distributed.Nccl;

/// <summary>
/// NCCL (libnccl.so.2), loaded by full path from <see cref="NcclLocator"/>'s first candidate that loads, its entry
/// points bound as function pointers (so no assembly-wide import resolver is needed). ncclResult_t is an int; 0 is
/// success. Signatures follow nccl.h of NCCL 2.x.
/// </summary>
public sealed unsafe class NcclLibrary
{
    private static readonly Lock Gate = new();
    private static NcclLibrary? _loaded;

    private NcclLibrary(nint handle, string path, string origin)
    {
        Path = path;
        Origin = origin;
        GetVersion = (delegate* unmanaged<int*, int>)Export(handle, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(handle, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export(handle, "ncclCommInitRank");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export(handle, "ncclAllReduce");
        Broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export(handle, "ncclBroadcast");
        GroupStart = (delegate* unmanaged<int>)Export(handle, "ncclGroupStart");
        GroupEnd = (delegate* unmanaged<int>)Export(handle, "ncclGroupEnd");
        CommAbort = (delegate* unmanaged<nint, int>)Export(handle, "ncclCommAbort");
        CommDestroy = (delegate* unmanaged<nint, int>)Export(handle, "ncclCommDestroy");
        CommGetAsyncError = (delegate* unmanaged<nint, int*, int>)Export(handle, "ncclCommGetAsyncError");
        GetErrorString = (delegate* unmanaged<int, byte*>)Export(handle, "ncclGetErrorString");
        GetLastError = NativeLibrary.TryGetExport(handle, "ncclGetLastError", out nint last) ? (delegate* unmanaged<nint, byte*>)last : null;
        int version;
        Check(GetVersion(&version), "ncclGetVersion");
        Version = version;
    }

    /// <summary>The file loaded (or the bare name the loader resolved).</summary>
    public string Path { get; }

    /// <summary>Which rule found it.</summary>
    public string Origin { get; }

    /// <summary>NCCL_VERSION_CODE: major*10000 + minor*100 + patch (2.9 and later).</summary>
    public int Version { get; }

    public string VersionText => $"{Version / 10000}.{Version / 100 % 100}.{Version % 100}";

    internal delegate* unmanaged<int*, int> GetVersion { get; }

    internal delegate* unmanaged<NcclUniqueId*, int> GetUniqueId { get; }

    internal delegate* unmanaged<nint*, int, NcclUniqueId, int, int> CommInitRank { get; }

    /// <summary>(sendbuff, recvbuff, count, datatype, op, comm, stream).</summary>
    internal delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> AllReduce { get; }

    /// <summary>(sendbuff, recvbuff, count, datatype, root, comm, stream).</summary>
    internal delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> Broadcast { get; }

    internal delegate* unmanaged<int> GroupStart { get; }

    internal delegate* unmanaged<int> GroupEnd { get; }

    internal delegate* unmanaged<nint, int> CommAbort { get; }

    internal delegate* unmanaged<nint, int> CommDestroy { get; }

    internal delegate* unmanaged<nint, int*, int> CommGetAsyncError { get; }

    internal delegate* unmanaged<int, byte*> GetErrorString { get; }

    internal delegate* unmanaged<nint, byte*> GetLastError { get; }

    /// <summary>Loads NCCL once per process (the libtorch directory is where the wheel layout is looked for).</summary>
    public static NcclLibrary Load(string? libTorchDirectory)
    {
        lock (Gate)
        {
            if (_loaded is not null)
            {
                return _loaded;
            }

            var tried = new List<string>();
            foreach (var (path, origin) in NcclLocator.Candidates(libTorchDirectory))
            {
                bool bare = !path.Contains('/', StringComparison.Ordinal);
                if (!bare && !File.Exists(path))
                {
                    tried.Add($"{path} ({origin}: no such file)");
                    continue;
                }

                try
                {
                    nint handle = NativeLibrary.Load(path);
                    _loaded = new NcclLibrary(handle, path, origin);
                    return _loaded;
                }
                catch (DllNotFoundException e)
                {
                    string why = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? e.Message;
                    tried.Add($"{path} ({origin}: {why})");
                }
            }

            throw new DistributedException(
                $"NCCL ({NcclLocator.FileName}) cannot be loaded; tried {string.Join("; ", tried)}. " +
                $"Set {NcclLocator.Variable} to the library, e.g. <site-packages>/nvidia/nccl/lib/{NcclLocator.FileName}");
        }
    }

    public string ErrorText(int result, nint communicator = 0)
    {
        string text = Marshal.PtrToStringUTF8((nint)GetErrorString(result)) ?? $"error {result}";
        if (communicator != 0 && GetLastError != null)
        {
            string? detail = Marshal.PtrToStringUTF8((nint)GetLastError(communicator));
            if (!string.IsNullOrWhiteSpace(detail))
            {
                text += " (" + detail.Trim() + ")";
            }
        }

        return text;
    }

    internal void Check(int result, string call, nint communicator = 0)
    {
        if (result != 0)
        {
            throw new DistributedException($"NCCL {call} failed: {ErrorText(result, communicator)} (ncclResult {result})");
        }
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new DistributedException($"{NcclLocator.FileName} has no {name}; NCCL 2.10 or later is needed");
}
