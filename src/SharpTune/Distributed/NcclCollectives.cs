using SharpTune.Kernels.Cuda;
using SharpTune.Distributed.Nccl;
using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// Collectives on CUDA tensors through NCCL, queued on a communication stream of their own so they can overlap
/// with the backward pass.
/// <para>
/// Ordering (TorchSharp does not expose PyTorch's current stream, and never changes it, so all of libtorch's work
/// runs on the legacy default stream, handle 0): before each collective an event is recorded on the default stream
/// and the communication stream waits for it, so NCCL reads the tensor only after every kernel queued before the
/// call (e.g. the ones that wrote the gradients) has finished. <see cref="ICollectiveWork.Wait"/> records an event
/// on the communication stream and makes the default stream wait for it, so every kernel PyTorch queues afterwards
/// (the optimizer step) sees the reduced values. Neither step blocks the host. The tensors stay alive until then
/// because the callers hold them (the bucket buffers live as long as the reducer).
/// </para>
/// </summary>
public sealed class NcclCollectives : ICollectiveBackend
{
    private readonly NcclCommunicator _communicator;
    private readonly CudaStream _stream;
    private readonly bool _ownsCommunicator;

    public NcclCollectives(NcclCommunicator communicator, bool ownsCommunicator = true)
    {
        _communicator = communicator;
        _ownsCommunicator = ownsCommunicator;
        CudaDriver.MakeCurrent(communicator.Device);
        _stream = CudaStream.CreateNonBlocking();
    }

    public int Rank => _communicator.Rank;

    public int WorldSize => _communicator.WorldSize;

    public string Name { get; init; } = "nccl";

    public NcclCommunicator Communicator => _communicator;

    public ICollectiveWork AllReduceSum(torch.Tensor tensor) => Launch(stream => _communicator.AllReduce(tensor, NcclReduceOp.Sum, stream));

    public ICollectiveWork Broadcast(torch.Tensor tensor, int root) => Launch(stream => _communicator.Broadcast(tensor, root, stream));

    public void Synchronize()
    {
        CudaDriver.MakeCurrent(_communicator.Device);
        _stream.Synchronize();
        _communicator.CheckAsyncError();
    }

    public void Abort() => _communicator.Abort();

    public void Dispose()
    {
        try
        {
            CudaDriver.MakeCurrent(_communicator.Device);
            _stream.Synchronize(); // nothing of ours may still run when the communicator goes
        }
        catch (Exception e) when (e is DistributedException or CudaDriverException)
        {
            // An aborted communicator or a failed device: destroy anyway.
        }

        _stream.Dispose();
        if (_ownsCommunicator)
        {
            _communicator.Dispose();
        }
    }

    private StreamWork Launch(Action<CudaStream> collective)
    {
        CudaDriver.MakeCurrent(_communicator.Device);
        using (var inputsReady = CudaStream.LegacyDefault.Record())
        {
            _stream.Wait(inputsReady);
        }

        collective(_stream);
        return new StreamWork(_communicator.Device, _stream.Record());
    }

    /// <summary>A collective queued on the communication stream; waiting orders the default stream after it.</summary>
    private sealed class StreamWork(int device, CudaEvent done) : ICollectiveWork
    {
        private CudaEvent? _done = done;

        public void Wait()
        {
            if (_done is null)
            {
                return;
            }

            CudaDriver.MakeCurrent(device);
            CudaStream.LegacyDefault.Wait(_done);
            _done.Dispose();
            _done = null;
        }
    }
}
