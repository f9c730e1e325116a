using System.Runtime.InteropServices;
using SharpTune.Gguf;

namespace SharpTune.Tests.Gguf;

/// <summary>
/// llama.cpp's own ggml library (libggml-base.so shipped by LLamaSharp.Backend.Cpu) as an oracle: its reference
/// quantizers (ggml_quantize_chunk without an importance matrix), dequantizers and GGUF parser, called directly.
/// </summary>
internal static class GgmlReference
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nuint QuantizeChunk(int type, float[] src, byte[] dst, long start, long nrows, long nPerRow, IntPtr imatrix);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void DequantizeRow(byte[] src, float[] dst, long k);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GgufInitFromFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, GgufInitParams parameters);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate long GgufGetCount(IntPtr context);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GgufGetName(IntPtr context, long index);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nuint GgufGetTensorOffset(IntPtr context, long index);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GgufGetTensorType(IntPtr context, long index);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void GgufFree(IntPtr context);

    [StructLayout(LayoutKind.Sequential)]
    private struct GgufInitParams
    {
        [MarshalAs(UnmanagedType.U1)]
        public bool NoAlloc;
        public IntPtr Context;
    }

    private static readonly Lazy<IntPtr> Library = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx", "libggml-base.so");
        return NativeLibrary.Load(path);
    });

    private static T Function<T>(string name) where T : Delegate =>
        Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(Library.Value, name));

    /// <summary>llama.cpp's quantization of <paramref name="rows"/> rows of <paramref name="rowLength"/> values.</summary>
    public static byte[] Quantize(GgmlType type, float[] values, int rowLength)
    {
        int rows = values.Length / rowLength;
        var traits = GgmlTypeTraits.Of(type);
        var bytes = new byte[traits.RowBytes(rowLength) * rows];
        nuint written = Function<QuantizeChunk>("ggml_quantize_chunk")((int)type, values, bytes, 0, rows, rowLength, IntPtr.Zero);
        Assert.Equal((nuint)bytes.Length, written);
        return bytes;
    }

    /// <summary>llama.cpp's dequantization (dequantize_row_*).</summary>
    public static float[] Dequantize(GgmlType type, byte[] bytes, int count)
    {
        string name = type switch
        {
            GgmlType.Q8_0 => "dequantize_row_q8_0",
            GgmlType.Q4_0 => "dequantize_row_q4_0",
            GgmlType.Q5_0 => "dequantize_row_q5_0",
            GgmlType.Q5_1 => "dequantize_row_q5_1",
            GgmlType.Q4_K => "dequantize_row_q4_K",
            GgmlType.Q5_K => "dequantize_row_q5_K",
            GgmlType.Q6_K => "dequantize_row_q6_K",
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
        var values = new float[count];
        Function<DequantizeRow>(name)(bytes, values, count);
        return values;
    }

    /// <summary>Parses a GGUF file with ggml's own reader; null when ggml rejects it.</summary>
    public static (long Tensors, long Keys, List<(string Name, int Type, long Offset)> TensorInfos)? ParseGguf(string path)
    {
        IntPtr context = Function<GgufInitFromFile>("gguf_init_from_file")(path, new GgufInitParams { NoAlloc = true, Context = IntPtr.Zero });
        if (context == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            long tensors = Function<GgufGetCount>("gguf_get_n_tensors")(context);
            long keys = Function<GgufGetCount>("gguf_get_n_kv")(context);
            var infos = new List<(string, int, long)>();
            for (long i = 0; i < tensors; i++)
            {
                infos.Add((Marshal.PtrToStringUTF8(Function<GgufGetName>("gguf_get_tensor_name")(context, i))!,
                    Function<GgufGetTensorType>("gguf_get_tensor_type")(context, i),
                    (long)Function<GgufGetTensorOffset>("gguf_get_tensor_offset")(context, i)));
            }

            return (tensors, keys, infos);
        }
        finally
        {
            Function<GgufFree>("gguf_free")(context);
        }
    }
}
