using static TorchSharp.torch;

namespace SharpTune.Models.Checkpoint;

/// <summary>The element types a safetensors header can name (the <c>dtype</c> strings of the format).</summary>
public enum SafetensorsDType
{
    Bool,
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    BF16,
    F32,
    F64,
    F8E4M3,
    F8E5M2,
}

/// <summary>One table of safetensors dtype names, element sizes and TorchSharp element types.</summary>
public static class SafetensorsDTypes
{
    private static readonly (SafetensorsDType Type, string Name, int Size, ScalarType? Torch)[] Table =
    [
        (SafetensorsDType.Bool, "BOOL", 1, ScalarType.Bool),
        (SafetensorsDType.U8, "U8", 1, ScalarType.Byte),
        (SafetensorsDType.I8, "I8", 1, ScalarType.Int8),
        (SafetensorsDType.I16, "I16", 2, ScalarType.Int16),
        (SafetensorsDType.U16, "U16", 2, null),
        (SafetensorsDType.I32, "I32", 4, ScalarType.Int32),
        (SafetensorsDType.U32, "U32", 4, null),
        (SafetensorsDType.I64, "I64", 8, ScalarType.Int64),
        (SafetensorsDType.U64, "U64", 8, null),
        (SafetensorsDType.F16, "F16", 2, ScalarType.Float16),
        (SafetensorsDType.BF16, "BF16", 2, ScalarType.BFloat16),
        (SafetensorsDType.F32, "F32", 4, ScalarType.Float32),
        (SafetensorsDType.F64, "F64", 8, ScalarType.Float64),
        (SafetensorsDType.F8E4M3, "F8_E4M3", 1, null),
        (SafetensorsDType.F8E5M2, "F8_E5M2", 1, null),
    ];

    /// <summary>The dtype a header string names, or false for an unknown name.</summary>
    public static bool TryParse(string name, out SafetensorsDType type)
    {
        foreach (var row in Table)
        {
            if (row.Name == name)
            {
                type = row.Type;
                return true;
            }
        }

        type = default;
        return false;
    }

    public static string Name(this SafetensorsDType type) => Row(type).Name;

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType type) => Row(type).Size;

    /// <summary>The TorchSharp element type, or null where TorchSharp has none (unsigned 16/32/64-bit, fp8).</summary>
    public static ScalarType? ToScalarType(this SafetensorsDType type) => Row(type).Torch;

    /// <summary>The safetensors dtype of a TorchSharp element type.</summary>
    public static SafetensorsDType FromScalarType(ScalarType type)
    {
        foreach (var row in Table)
        {
            if (row.Torch == type)
            {
                return row.Type;
            }
        }

        throw new SharpTuneException($"safetensors cannot store tensors of element type {type}");
    }

    private static (SafetensorsDType Type, string Name, int Size, ScalarType? Torch) Row(SafetensorsDType type)
    {
        foreach (var row in Table)
        {
            if (row.Type == type)
            {
                return row;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(type), type, null);
    }
}
