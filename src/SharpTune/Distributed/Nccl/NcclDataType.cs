using TorchSharp;

namespace SharpTune.Distributed.Nccl;

/// <summary>ncclDataType_t (nccl.h).</summary>
public enum NcclDataType
{
    Int8 = 0,
    Uint8 = 1,
    Int32 = 2,
    Uint32 = 3,
    Int64 = 4,
    Uint64 = 5,
    Float16 = 6,
    Float32 = 7,
    Float64 = 8,
    BFloat16 = 9,
}

/// <summary>TorchSharp dtypes to NCCL's.</summary>
public static class NcclDataTypes
{
    public static NcclDataType From(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Int8 => NcclDataType.Int8,
        torch.ScalarType.Byte => NcclDataType.Uint8,
        torch.ScalarType.Bool => NcclDataType.Uint8,
        torch.ScalarType.Int32 => NcclDataType.Int32,
        torch.ScalarType.Int64 => NcclDataType.Int64,
        torch.ScalarType.Float16 => NcclDataType.Float16,
        torch.ScalarType.Float32 => NcclDataType.Float32,
        torch.ScalarType.Float64 => NcclDataType.Float64,
        torch.ScalarType.BFloat16 => NcclDataType.BFloat16,
        _ => throw new DistributedException($"NCCL cannot reduce tensors of type {type}"),
    };
}
