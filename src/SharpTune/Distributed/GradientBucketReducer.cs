using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// <see cref="IGradientReducer"/> over an <see cref="ICollectiveBackend"/>: each bucket's gradients are copied into
/// one flat buffer (kept for the reducer's life), all-reduced when the bucket's last parameter is marked ready,
/// and, in <see cref="Finish"/>, scaled and copied back into the gradients.
/// </summary>
public sealed class GradientBucketReducer : IGradientReducer
{
    private readonly ICollectiveBackend _backend;
    private readonly IReadOnlyList<torch.Tensor> _parameters;
    private readonly Dictionary<torch.Tensor, int> _indexOf = new(ReferenceEqualityComparer.Instance);
    private readonly double _scale;
    private readonly torch.Tensor?[] _buffers;
    private readonly ICollectiveWork?[] _pending;
    private readonly int[] _readyCount;
    private readonly bool[] _ready;
    private bool _disposed;

    public GradientBucketReducer(ICollectiveBackend backend, IReadOnlyList<torch.Tensor> parameters, double scale, long bucketBytes = GradientBucketPlan.DefaultBucketBytes)
    {
        _backend = backend;
        _parameters = parameters;
        _scale = scale;
        Plan = GradientBucketPlan.Create(parameters, bucketBytes);
        for (int i = 0; i < parameters.Count; i++)
        {
            _indexOf.TryAdd(parameters[i], i);
        }

        _buffers = new torch.Tensor?[Plan.Buckets.Count];
        _pending = new ICollectiveWork?[Plan.Buckets.Count];
        _readyCount = new int[Plan.Buckets.Count];
        _ready = new bool[parameters.Count];
    }

    public GradientBucketPlan Plan { get; }

    public void MarkReady(torch.Tensor parameter)
    {
        if (!_indexOf.TryGetValue(parameter, out int index))
        {
            throw new ArgumentException("this parameter is not one the reducer was made for", nameof(parameter));
        }

        MarkReady(index);
    }

    public void MarkReady(int parameterIndex)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_ready[parameterIndex])
        {
            return;
        }

        _ready[parameterIndex] = true;
        int bucket = Plan.BucketOf[parameterIndex];
        if (++_readyCount[bucket] == Plan.Buckets[bucket].Parameters.Count)
        {
            Launch(bucket);
        }
    }

    public void Finish()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _parameters.Count; i++)
        {
            MarkReady(i);
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (int b = 0; b < Plan.Buckets.Count; b++)
        {
            _pending[b]!.Wait();
            _pending[b] = null;
            var flat = _buffers[b]!;
            flat.mul_(_scale);
            foreach (int i in Plan.Buckets[b].Parameters)
            {
                var parameter = _parameters[i];
                var slice = flat.narrow(0, Plan.OffsetOf[i], parameter.numel()).view_as(parameter);
                var grad = parameter.grad;
                if (grad is null)
                {
                    parameter.grad = slice.clone().DetachFromDisposeScope();
                }
                else
                {
                    grad.copy_(slice);
                }
            }
        }

        Array.Clear(_ready);
        Array.Clear(_readyCount);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var work in _pending)
        {
            work?.Wait();
        }

        foreach (var buffer in _buffers)
        {
            buffer?.Dispose();
        }
    }

    private void Launch(int bucket)
    {
        var plan = Plan.Buckets[bucket];
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var flat = _buffers[bucket] ??= torch.empty(plan.Elements, plan.Type, _parameters[plan.Parameters[0]].device).DetachFromDisposeScope();
        foreach (int i in plan.Parameters)
        {
            var parameter = _parameters[i];
            var slice = flat.narrow(0, Plan.OffsetOf[i], parameter.numel());
            var grad = parameter.grad;
            if (grad is null)
            {
                slice.zero_();
            }
            else
            {
                slice.copy_(grad.reshape(-1));
            }
        }

        _pending[bucket] = _backend.AllReduceSum(flat);
    }
}
