using SharpTune.Kernels.Cuda;
using TorchSharp;

namespace SharpTune.Distributed.Nccl;

/// <summary>
/// One rank's NCCL communicator on one GPU. Collectives are queued on the stream given (they do not block the
/// host); tensors must be contiguous CUDA tensors on this rank's device. <see cref="Abort"/> may be called from
/// another thread (the failure monitor) to end collectives that wait on a dead peer.
/// </summary>
public sealed unsafe class NcclCommunicator : IDisposable
{
    private readonly NcclLibrary _nccl;
    private nint _comm;
    private int _aborted;

    private NcclCommunicator(NcclLibrary nccl, nint comm, int rank, int worldSize, int device)
    {
        _nccl = nccl;
        _comm = comm;
        Rank = rank;
        WorldSize = worldSize;
        Device = device;
    }

    public int Rank { get; }

    public int WorldSize { get; }

    /// <summary>The CUDA device ordinal (as this process sees devices).</summary>
    public int Device { get; }

    public static NcclUniqueId CreateUniqueId(NcclLibrary nccl)
    {
        NcclUniqueId id;
        nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>Joins the communicator (blocks until all <paramref name="worldSize"/> ranks have called this).</summary>
    public static NcclCommunicator InitRank(NcclLibrary nccl, NcclUniqueId id, int worldSize, int rank, int device)
    {
        CudaDriver.MakeCurrent(device);
        nint comm;
        nccl.Check(nccl.CommInitRank(&comm, worldSize, id, rank), $"ncclCommInitRank (rank {rank} of {worldSize}, cuda:{device})");
        return new NcclCommunicator(nccl, comm, rank, worldSize, device);
    }

    /// <summary>Queues an in-place all-reduce of <paramref name="tensor"/> on <paramref name="stream"/>.</summary>
    internal void AllReduce(torch.Tensor tensor, NcclReduceOp op, CudaStream stream)
    {
        nint pointer = DevicePointer(tensor);
        CudaDriver.MakeCurrent(Device);
        _nccl.Check(_nccl.AllReduce(pointer, pointer, (nuint)tensor.numel(), (int)NcclDataTypes.From(tensor.dtype), (int)op, Live(), stream.Handle), "ncclAllReduce", _comm);
    }

    /// <summary>Queues an in-place broadcast of <paramref name="tensor"/> from <paramref name="root"/> on <paramref name="stream"/>.</summary>
    internal void Broadcast(torch.Tensor tensor, int root, CudaStream stream)
    {
        nint pointer = DevicePointer(tensor);
        CudaDriver.MakeCurrent(Device);
        _nccl.Check(_nccl.Broadcast(pointer, pointer, (nuint)tensor.numel(), (int)NcclDataTypes.From(tensor.dtype), root, Live(), stream.Handle), "ncclBroadcast", _comm);
    }

    public void GroupStart() => _nccl.Check(_nccl.GroupStart(), "ncclGroupStart");

    public void GroupEnd() => _nccl.Check(_nccl.GroupEnd(), "ncclGroupEnd", _comm);

    /// <summary>Throws if NCCL reported an asynchronous error (a network failure, a peer that went away).</summary>
    public void CheckAsyncError()
    {
        if (Volatile.Read(ref _aborted) != 0)
        {
            throw new DistributedException($"rank {Rank}: the NCCL communicator was aborted");
        }

        int asyncError;
        _nccl.Check(_nccl.CommGetAsyncError(_comm, &asyncError), "ncclCommGetAsyncError");
        if (asyncError != 0 && asyncError != 7 /* ncclInProgress */)
        {
            throw new DistributedException($"rank {Rank}: NCCL reported an asynchronous error: {_nccl.ErrorText(asyncError, _comm)}");
        }
    }

    /// <summary>Ends every pending collective and frees the communicator (thread-safe, once).</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) == 0 && _comm != 0)
        {
            CudaDriver.MakeCurrent(Device);
            _nccl.CommAbort(_comm);
        }
    }

    public void Dispose()
    {
        if (Volatile.Read(ref _aborted) == 0 && Interlocked.Exchange(ref _aborted, 1) == 0 && _comm != 0)
        {
            CudaDriver.MakeCurrent(Device);
            _nccl.CommDestroy(_comm);
        }

        _comm = 0;
    }

    private nint Live() => Volatile.Read(ref _aborted) == 0 ? _comm : throw new DistributedException($"rank {Rank}: the NCCL communicator was aborted");

    private nint DevicePointer(torch.Tensor tensor)
    {
        if (tensor.device.type != DeviceType.CUDA)
        {
            throw new ArgumentException($"NCCL needs CUDA tensors; this one is on {tensor.device}", nameof(tensor));
        }

        return TensorMemory.DataPointer(tensor);
    }
}
