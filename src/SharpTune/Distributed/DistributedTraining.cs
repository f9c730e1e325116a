using SharpTune.Distributed.Nccl;
using SharpTune.Runtime;
using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// The entry point for a trainer: <c>using var sync = DistributedTraining.Join();</c> reads RANK/WORLD_SIZE/...
/// from the environment (set by <c>sharptune launch</c>, torchrun, Slurm or Kubernetes) and returns a
/// <see cref="SingleProcessSynchronizer"/> when there is one process, else joins the rendezvous, picks this rank's
/// GPU and connects NCCL. Train on <see cref="IGradientSynchronizer.Device"/>.
/// </summary>
public static class DistributedTraining
{
    /// <summary>Call <see cref="TorchRuntime.Initialize"/> first.</summary>
    public static IGradientSynchronizer Join(
        DistributedEnvironment? environment = null,
        CollectiveBackendKind backend = CollectiveBackendKind.Auto,
        RendezvousOptions? options = null,
        TextWriter? log = null)
    {
        var runtime = TorchRuntime.Current ?? throw new InvalidOperationException("call TorchRuntime.Initialize() before joining a distributed job");
        environment ??= DistributedEnvironment.FromEnvironment();
        bool cuda = runtime.CudaAvailable;
        if (!environment.IsDistributed)
        {
            return new SingleProcessSynchronizer(cuda ? torch.CUDA : torch.CPU);
        }

        if (backend == CollectiveBackendKind.Nccl && !cuda)
        {
            throw new DistributedException($"rank {environment.Rank}: the NCCL backend needs CUDA, and libtorch at {runtime.LibTorch.Directory} sees no GPU");
        }

        var kind = backend == CollectiveBackendKind.Auto ? (cuda ? CollectiveBackendKind.Nccl : CollectiveBackendKind.Store) : backend;
        var session = RendezvousSession.Join(environment, options);
        try
        {
            if (kind == CollectiveBackendKind.Store)
            {
                log?.WriteLine($"{environment.Describe()}: collectives through the store (cpu)");
                return new DataParallelSynchronizer(session, new StoreCollectives(session), torch.CPU);
            }

            int device = environment.CudaDeviceIndex(runtime.CudaDeviceCount);
            var nccl = NcclLibrary.Load(runtime.LibTorch.Directory);
            byte[] idBytes = session.Share("nccl-unique-id", environment.IsMain ? NcclCommunicator.CreateUniqueId(nccl).ToArray() : null);
            // Make PyTorch create its context on this device before NCCL does, so both use the primary context.
            using (torch.zeros(1, device: new torch.Device(DeviceType.CUDA, device)))
            {
            }

            var communicator = NcclCommunicator.InitRank(nccl, NcclUniqueId.FromBytes(idBytes), environment.WorldSize, environment.Rank, device);
            log?.WriteLine($"{environment.Describe()}: NCCL {nccl.VersionText} from {nccl.Path} ({nccl.Origin}), cuda:{device}");
            return new DataParallelSynchronizer(session, new NcclCollectives(communicator) { Name = "nccl " + nccl.VersionText }, new torch.Device(DeviceType.CUDA, device));
        }
        catch (Exception e)
        {
            session.ReportFailure(e.Message);
            session.Dispose();
            throw;
        }
    }
}
