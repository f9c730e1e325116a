using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>World size 1: every collective is a no-op, <see cref="IsMain"/> is true. What a trainer gets by default.</summary>
public sealed class SingleProcessSynchronizer(torch.Device? device = null) : IGradientSynchronizer
{
    public int Rank => 0;

    public int WorldSize => 1;

    public int LocalRank => 0;

    public bool IsMain => true;

    public DistributedEnvironment Environment => DistributedEnvironment.Single;

    public torch.Device Device { get; } = device ?? torch.CPU;

    public void BroadcastParameters(IEnumerable<torch.Tensor> parameters)
    {
    }

    public void AllReduceGradients(IEnumerable<torch.Tensor> parameters)
    {
    }

    public void AllReduceGradients(IEnumerable<torch.Tensor> parameters, double scale)
    {
        if (scale != 1.0)
        {
            using var noGrad = torch.no_grad();
            foreach (var parameter in parameters)
            {
                parameter.grad?.mul_(scale);
            }
        }
    }

    public IGradientReducer CreateReducer(IReadOnlyList<torch.Tensor> parameters, double? scale = null, long bucketBytes = GradientBucketPlan.DefaultBucketBytes) =>
        new ScalingReducer(parameters, scale ?? 1.0);

    public double SumOverRanks(double value) => value;

    public void Barrier()
    {
    }

    public void ReportFailure(string message)
    {
    }

    public void Dispose()
    {
    }

    /// <summary>Nothing to reduce; only applies a scale other than 1 at <see cref="Finish"/>.</summary>
    private sealed class ScalingReducer(IReadOnlyList<torch.Tensor> parameters, double scale) : IGradientReducer
    {
        public void MarkReady(int parameterIndex)
        {
        }

        public void MarkReady(torch.Tensor parameter)
        {
        }

        public void Finish()
        {
            if (scale != 1.0)
            {
                using var noGrad = torch.no_grad();
                foreach (var parameter in parameters)
                {
                    parameter.grad?.mul_(scale);
                }
            }
        }

        public void Dispose()
        {
        }
    }
}
