using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// Which parameters share a bucket (one flat buffer, one all-reduce). Like PyTorch's DDP, parameters go in reverse
/// order (the backward pass produces the last layers' gradients first), consecutive ones of the same dtype and
/// device share a bucket until it would pass the byte cap; one larger than the cap gets a bucket of its own.
/// </summary>
public sealed class GradientBucketPlan
{
    /// <summary>25 MiB, DDP's default.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private GradientBucketPlan(IReadOnlyList<Bucket> buckets, int[] bucketOf, long[] offsetOf)
    {
        Buckets = buckets;
        BucketOf = bucketOf;
        OffsetOf = offsetOf;
    }

    public IReadOnlyList<Bucket> Buckets { get; }

    /// <summary>For parameter i, the index of its bucket.</summary>
    public IReadOnlyList<int> BucketOf { get; }

    /// <summary>For parameter i, its first element's position in its bucket's flat buffer.</summary>
    public IReadOnlyList<long> OffsetOf { get; }

    public static GradientBucketPlan Create(IReadOnlyList<(long Elements, torch.ScalarType Type, string Device)> parameters, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 1);
        var buckets = new List<Bucket>();
        var bucketOf = new int[parameters.Count];
        var offsetOf = new long[parameters.Count];
        List<int>? members = null;
        long elements = 0;
        torch.ScalarType type = default;
        string device = "";
        for (int i = parameters.Count - 1; i >= 0; i--)
        {
            var (count, dtype, where) = parameters[i];
            bool fits = members is not null && dtype == type && where == device && (elements + count) * ElementSize(type) <= bucketBytes;
            if (!fits)
            {
                Close();
                members = [];
                elements = 0;
                type = dtype;
                device = where;
            }

            bucketOf[i] = buckets.Count;
            offsetOf[i] = elements;
            members!.Add(i);
            elements += count;
        }

        Close();
        return new GradientBucketPlan(buckets, bucketOf, offsetOf);

        void Close()
        {
            if (members is { Count: > 0 })
            {
                buckets.Add(new Bucket(members, elements, type, device));
            }
        }
    }

    public static GradientBucketPlan Create(IReadOnlyList<torch.Tensor> parameters, long bucketBytes = DefaultBucketBytes) =>
        Create([.. parameters.Select(p => (p.numel(), p.dtype, p.device.ToString()))], bucketBytes);

    public static long ElementSize(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float64 or torch.ScalarType.Int64 or torch.ScalarType.ComplexFloat32 => 8,
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
        _ => throw new ArgumentException($"no gradient buckets for {type}", nameof(type)),
    };

    /// <summary>Parameters (indices into the list given) whose gradients travel together.</summary>
    public sealed record Bucket(IReadOnlyList<int> Parameters, long Elements, torch.ScalarType Type, string Device);
}
