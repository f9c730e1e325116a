using System.Numerics;
using SharpTune.Quantization;

namespace SharpTune.Kernels.Nf4;

/// <summary>
/// NF4 dequantization in one pass: each thread reads one packed byte (two codes, the even element in the high nibble)
/// and writes both values in the output dtype, grid-stride, 64-bit indices. The block's absmax is read directly
/// (float32) or rebuilt from its double quantization (8-bit dynamic code times the float32 scale of its group of
/// blocks, plus the offset). Arithmetic in the order of <see cref="Nf4DequantizeReference"/>, with no fused
/// multiply-adds: absmax = code * scale then + offset (each rounded to float32), then absmax and the code book value are
/// each rounded to the dtype and multiplied, the product rounded once to the dtype. The code book and the dynamic map
/// are baked into the source as float32 bit patterns. Needs an even block size (a byte never straddles two blocks);
/// block indices come from shifts when the block sizes are powers of two (64 and 256 in practice).
/// </summary>
public static class Nf4DequantizeKernel
{
    public const string Name = "nf4_dequantize";

    public static string Source => CudaPrelude.Source
        + CudaPrelude.FloatTable("nf4_code_book_bits", Nf4CodeBook.Values)
        + CudaPrelude.FloatTable("nf4_absmax_map_bits", DynamicQuantizationMap.Signed)
        + GroupIndex
        + Define("f32", "float", "unsigned long long")
        + Define("bf16", "bf16_t", "unsigned int")
        + Define("f16", "f16_t", "unsigned int");

    /// <summary>The shift that divides by <paramref name="size"/> when it is a power of two, else -1 (the kernel divides).</summary>
    internal static int Shift(int size) => BitOperations.IsPow2(size) ? BitOperations.Log2((uint)size) : -1;

    // index / size, by a shift for powers of two: a 64-bit division is a long subroutine on the GPU.
    private const string GroupIndex = """

        __device__ __forceinline__ long nf4_group(long index, int size, int shift) { return shift >= 0 ? index >> shift : index / size; }

        """;

    // pair_t is as wide as two outputs: both are written with one aligned store (output offsets 2j of a fresh tensor).
    private static string Define(string suffix, string type, string pairType) => $$"""

        __device__ __forceinline__ float nf4_round_{{suffix}}(float v) { {{type}} t; store_{{suffix}}(&t, v); return load_{{suffix}}(&t); }

        extern "C" __global__ void nf4_dequantize_{{suffix}}(const unsigned char* packed, const float* absmax,
            const unsigned char* absmax_codes, const float* absmax_scales, float absmax_offset,
            int block_size, int block_shift, int absmax_block_size, int absmax_block_shift, {{type}}* out, long n)
        {
            __shared__ float code[16];
            if (threadIdx.x < 16) code[threadIdx.x] = nf4_round_{{suffix}}(__uint_as_float(nf4_code_book_bits[threadIdx.x]));
            __syncthreads();
            const long bytes = (n + 1) / 2;
            for (long j = blockIdx.x * (long)blockDim.x + threadIdx.x; j < bytes; j += (long)gridDim.x * blockDim.x)
            {
                const long block = nf4_group(2 * j, block_size, block_shift);
                float scale;
                if (absmax != nullptr)
                {
                    scale = absmax[block];
                }
                else
                {
                    const float level = __uint_as_float(nf4_absmax_map_bits[absmax_codes[block]]);
                    scale = __fadd_rn(__fmul_rn(level, absmax_scales[nf4_group(block, absmax_block_size, absmax_block_shift)]), absmax_offset);
                }

                scale = nf4_round_{{suffix}}(scale);
                const unsigned int b = packed[j];
                const float first = __fmul_rn(code[b >> 4], scale);
                const float second = __fmul_rn(code[b & 15u], scale);
                if (2 * j + 1 < n)
                {
                    union { {{type}} v[2]; {{pairType}} bits; } pair;
                    store_{{suffix}}(&pair.v[0], first);
                    store_{{suffix}}(&pair.v[1], second);
                    *reinterpret_cast<{{pairType}}*>(out + 2 * j) = pair.bits;
                }
                else
                {
                    store_{{suffix}}(out + 2 * j, first);
                }
            }
        }

        """;
}
