using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// <see cref="IGradientSynchronizer"/> for world size > 1: the rendezvous session (barriers, failure signalling)
/// plus a collective backend (NCCL on GPUs). A failure of another rank aborts pending collectives and is thrown,
/// naming that rank, from this rank's next call.
/// </summary>
public sealed class DataParallelSynchronizer : IGradientSynchronizer
{
    private readonly RendezvousSession _session;
    private readonly ICollectiveBackend _backend;
    private GradientBucketReducer? _reducer;
    private double _reducerScale;
    private IReadOnlyList<torch.Tensor>? _reducerParameters;

    public DataParallelSynchronizer(RendezvousSession session, ICollectiveBackend backend, torch.Device device)
    {
        _session = session;
        _backend = backend;
        Device = device;
        session.Monitor.OnFailure(_ => backend.Abort());
    }

    public int Rank => _session.Environment.Rank;

    public int WorldSize => _session.Environment.WorldSize;

    public int LocalRank => _session.Environment.LocalRank;

    public bool IsMain => _session.Environment.IsMain;

    public DistributedEnvironment Environment => _session.Environment;

    public torch.Device Device { get; }

    public ICollectiveBackend Backend => _backend;

    public RendezvousSession Session => _session;

    public void BroadcastParameters(IEnumerable<torch.Tensor> parameters)
    {
        _session.Monitor.ThrowIfFailed();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var copies = new List<(torch.Tensor Target, torch.Tensor Contiguous, ICollectiveWork Work)>();
        foreach (var parameter in parameters)
        {
            var contiguous = parameter.is_contiguous() ? parameter : parameter.contiguous();
            copies.Add((parameter, contiguous, _backend.Broadcast(contiguous, root: 0)));
        }

        foreach (var (target, contiguous, work) in copies)
        {
            work.Wait();
            if (!ReferenceEquals(target, contiguous))
            {
                target.copy_(contiguous);
            }
        }

        _backend.Synchronize();
        _session.Monitor.ThrowIfFailed();
    }

    public void AllReduceGradients(IEnumerable<torch.Tensor> parameters) => AllReduceGradients(parameters, 1.0 / WorldSize);

    public void AllReduceGradients(IEnumerable<torch.Tensor> parameters, double scale)
    {
        _session.Monitor.ThrowIfFailed();
        var list = parameters as IReadOnlyList<torch.Tensor> ?? [.. parameters];
        if (_reducer is null || _reducerScale != scale || !SameParameters(list))
        {
            _reducer?.Dispose();
            _reducer = new GradientBucketReducer(_backend, list, scale);
            _reducerScale = scale;
            _reducerParameters = list;
        }

        _reducer.Finish();
        _session.Monitor.ThrowIfFailed();
    }

    public IGradientReducer CreateReducer(IReadOnlyList<torch.Tensor> parameters, double? scale = null, long bucketBytes = GradientBucketPlan.DefaultBucketBytes) =>
        new GradientBucketReducer(_backend, parameters, scale ?? 1.0 / WorldSize, bucketBytes);

    public double SumOverRanks(double value)
    {
        _session.Monitor.ThrowIfFailed();
        using var scope = torch.NewDisposeScope();
        var tensor = torch.tensor(new[] { value }, torch.float64, Device);
        _backend.AllReduceSum(tensor).Wait();
        return tensor.cpu().item<double>();
    }

    public void Barrier()
    {
        _session.Monitor.ThrowIfFailed();
        _session.Barrier();
    }

    public void ReportFailure(string message) => _session.ReportFailure(message);

    public void Dispose()
    {
        _reducer?.Dispose();
        _backend.Dispose();
        _session.Dispose();
    }

    private bool SameParameters(IReadOnlyList<torch.Tensor> list) =>
        _reducerParameters is { } known && known.Count == list.Count && known.Zip(list).All(pair => ReferenceEquals(pair.First, pair.Second));
}
