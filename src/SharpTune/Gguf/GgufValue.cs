using System.Globalization;

namespace SharpTune.Gguf;

/// <summary>
/// One GGUF metadata value: a scalar, a string, or an array of values of one element type (arrays may nest).
/// Scalars are stored as their .NET type (<see cref="byte"/>, <see cref="sbyte"/>, ..., <see cref="bool"/>), strings as
/// <see cref="string"/>, arrays as <see cref="IReadOnlyList{T}"/> of <see cref="GgufValue"/>.
/// </summary>
public sealed class GgufValue
{
    private GgufValue(GgufValueType type, object value, GgufValueType elementType = default)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>The element type of an array (meaningless for other values).</summary>
    public GgufValueType ElementType { get; }

    public object Value { get; }

    public static GgufValue UInt8(byte v) => new(GgufValueType.UInt8, v);
    public static GgufValue Int8(sbyte v) => new(GgufValueType.Int8, v);
    public static GgufValue UInt16(ushort v) => new(GgufValueType.UInt16, v);
    public static GgufValue Int16(short v) => new(GgufValueType.Int16, v);
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v);
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Int64(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Float64(double v) => new(GgufValueType.Float64, v);

    /// <summary>An array whose items all have <paramref name="elementType"/> (checked).</summary>
    public static GgufValue Array(GgufValueType elementType, IReadOnlyList<GgufValue> items)
    {
        foreach (var item in items)
        {
            if (item.Type != elementType)
            {
                throw new ArgumentException($"array of {elementType} holds a {item.Type}", nameof(items));
            }
        }

        return new(GgufValueType.Array, items, elementType);
    }

    public static GgufValue StringArray(IEnumerable<string> items) => Array(GgufValueType.String, items.Select(String).ToArray());
    public static GgufValue Int32Array(IEnumerable<int> items) => Array(GgufValueType.Int32, items.Select(Int32).ToArray());
    public static GgufValue Float32Array(IEnumerable<float> items) => Array(GgufValueType.Float32, items.Select(Float32).ToArray());

    public IReadOnlyList<GgufValue> AsArray() => Value as IReadOnlyList<GgufValue> ?? throw new InvalidCastException($"GGUF value is a {Type}, not an array");

    public string AsString() => Value as string ?? throw new InvalidCastException($"GGUF value is a {Type}, not a string");

    public bool AsBool() => Value is bool b ? b : throw new InvalidCastException($"GGUF value is a {Type}, not a bool");

    /// <summary>Any integer value as a 64-bit signed number.</summary>
    public long AsInt64() => Type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16 or GgufValueType.UInt32
            or GgufValueType.Int32 or GgufValueType.Int64 => Convert.ToInt64(Value, CultureInfo.InvariantCulture),
        GgufValueType.UInt64 => checked((long)(ulong)Value),
        _ => throw new InvalidCastException($"GGUF value is a {Type}, not an integer"),
    };

    /// <summary>Any number as a double.</summary>
    public double AsDouble() => Type switch
    {
        GgufValueType.Float32 => (float)Value,
        GgufValueType.Float64 => (double)Value,
        _ => AsInt64(),
    };

    public IReadOnlyList<string> AsStringArray() => AsArray().Select(v => v.AsString()).ToArray();

    public override string ToString() => Type switch
    {
        GgufValueType.Array => $"[{ElementType} x {AsArray().Count}]",
        GgufValueType.String => AsString(),
        _ => Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "",
    };

    public override bool Equals(object? obj) => obj is GgufValue other && Type == other.Type && (Type == GgufValueType.Array
        ? ElementType == other.ElementType && AsArray().SequenceEqual(other.AsArray())
        : Value.Equals(other.Value));

    public override int GetHashCode() => HashCode.Combine(Type, Type == GgufValueType.Array ? AsArray().Count : Value.GetHashCode());
}
