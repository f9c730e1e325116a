using System.Numerics;
using SharpTune.Quantization;

namespace SharpTune.Kernels.Nf4;

/// <summary>
/// NF4 dequantization in one pass, two kernels per output dtype. <c>nf4_dequantize_x16_*</c> (the one used when the
/// block size is a multiple of 16 and the pointers are aligned, i.e. always for weights SharpTune makes): each thread
/// reads 8 packed bytes with one load, computes its block's scale once and writes 16 outputs with 16-byte stores; the
/// last n % 16 elements are done byte by byte. <c>nf4_dequantize_*</c> (any even block size): each thread reads one
/// packed byte and writes its two values with one 4-byte store. Both grid-stride with 64-bit indices, the even element
/// in the high nibble. The block's absmax is read directly (float32) or rebuilt from its double quantization (8-bit
/// dynamic code times the float32 scale of its group of blocks, plus the offset). Arithmetic in the order of
/// <see cref="Nf4DequantizeReference"/>, with no fused multiply-adds: absmax = code * scale then + offset (each rounded
/// to float32), then absmax and the code book value are each rounded to the dtype and multiplied, the product rounded
/// once to the dtype, so both kernels are bit-identical to the reference. The code book and the dynamic map are baked
/// into the source as float32 bit patterns. Block indices come from shifts when the block sizes are powers of two.
/// </summary>
public static class Nf4DequantizeKernel
{
    public const string Name = "nf4_dequantize";

    public static string Source => CudaPrelude.Source
        + CudaPrelude.FloatTable("nf4_code_book_bits", Nf4CodeBook.Values)
        + CudaPrelude.FloatTable("nf4_absmax_map_bits", DynamicQuantizationMap.Signed)
        + GroupIndex
        + VectorTypes
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

        // The code book rounded to the dtype, in shared memory (every thread of the block calls this first).
        __device__ __forceinline__ void nf4_load_code_book_{{suffix}}(float* code)
        {
            if (threadIdx.x < 16) code[threadIdx.x] = nf4_round_{{suffix}}(__uint_as_float(nf4_code_book_bits[threadIdx.x]));
            __syncthreads();
        }

        // The absmax of quantization block `block`, rounded to the dtype.
        __device__ __forceinline__ float nf4_scale_{{suffix}}(long block, const float* absmax, const unsigned char* absmax_codes,
            const float* absmax_scales, float absmax_offset, int absmax_block_size, int absmax_block_shift)
        {
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

            return nf4_round_{{suffix}}(scale);
        }

        // Packed byte j: elements 2j (high nibble) and 2j + 1 (low nibble, when 2j + 1 < n).
        __device__ __forceinline__ void nf4_dequantize_byte_{{suffix}}(long j, const float* code, const unsigned char* packed,
            const float* absmax, const unsigned char* absmax_codes, const float* absmax_scales, float absmax_offset,
            int block_size, int block_shift, int absmax_block_size, int absmax_block_shift, {{type}}* out, long n)
        {
            const float scale = nf4_scale_{{suffix}}(nf4_group(2 * j, block_size, block_shift), absmax, absmax_codes, absmax_scales,
                absmax_offset, absmax_block_size, absmax_block_shift);
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

        extern "C" __global__ void nf4_dequantize_{{suffix}}(const unsigned char* packed, const float* absmax,
            const unsigned char* absmax_codes, const float* absmax_scales, float absmax_offset,
            int block_size, int block_shift, int absmax_block_size, int absmax_block_shift, {{type}}* out, long n)
        {
            __shared__ float code[16];
            nf4_load_code_book_{{suffix}}(code);
            const long bytes = (n + 1) / 2;
            for (long j = blockIdx.x * (long)blockDim.x + threadIdx.x; j < bytes; j += (long)gridDim.x * blockDim.x)
            {
                nf4_dequantize_byte_{{suffix}}(j, code, packed, absmax, absmax_codes, absmax_scales, absmax_offset,
                    block_size, block_shift, absmax_block_size, absmax_block_shift, out, n);
            }
        }

        // Needs block_size % 16 == 0 (16 outputs never straddle two blocks), packed 8-byte and out 16-byte aligned.
        extern "C" __global__ void nf4_dequantize_x16_{{suffix}}(const unsigned char* packed, const float* absmax,
            const unsigned char* absmax_codes, const float* absmax_scales, float absmax_offset,
            int block_size, int block_shift, int absmax_block_size, int absmax_block_shift, {{type}}* out, long n)
        {
            __shared__ float code[16];
            nf4_load_code_book_{{suffix}}(code);
            const long chunks = n / 16;
            const long first_thread = blockIdx.x * (long)blockDim.x + threadIdx.x;
            const long threads = (long)gridDim.x * blockDim.x;
            for (long j = first_thread; j < chunks; j += threads)
            {
                const float scale = nf4_scale_{{suffix}}(nf4_group(16 * j, block_size, block_shift), absmax, absmax_codes, absmax_scales,
                    absmax_offset, absmax_block_size, absmax_block_shift);
                const nf4_bytes8 word = reinterpret_cast<const nf4_bytes8*>(packed)[j];
                nf4_out16_{{suffix}} values;
                #pragma unroll
                for (int k = 0; k < 8; k++)
                {
                    const unsigned int b = ((k < 4 ? word.lo : word.hi) >> (8 * (k & 3))) & 255u;
                    store_{{suffix}}(&values.v[2 * k], __fmul_rn(code[b >> 4], scale));
                    store_{{suffix}}(&values.v[2 * k + 1], __fmul_rn(code[b & 15u], scale));
                }

                nf4_bytes16* destination = reinterpret_cast<nf4_bytes16*>(out + 16 * j);
                #pragma unroll
                for (int q = 0; q < (int)(sizeof(values) / 16); q++) destination[q] = values.q[q];
            }

            // The last n % 16 elements: at most 8 packed bytes, one thread each.
            const long tail = (n + 1) / 2 - 8 * chunks;
            if (first_thread < tail)
            {
                nf4_dequantize_byte_{{suffix}}(8 * chunks + first_thread, code, packed, absmax, absmax_codes, absmax_scales, absmax_offset,
                    block_size, block_shift, absmax_block_size, absmax_block_shift, out, n);
            }
        }

        """;

    // The 8-byte load and the 16-byte stores of the x16 kernel.
    private const string VectorTypes = """

        struct alignas(8) nf4_bytes8 { unsigned int lo, hi; };
        struct alignas(16) nf4_bytes16 { unsigned int x, y, z, w; };
        union nf4_out16_f32 { float v[16]; nf4_bytes16 q[4]; };
        union nf4_out16_bf16 { bf16_t v[16]; nf4_bytes16 q[2]; };
        union nf4_out16_f16 { f16_t v[16]; nf4_bytes16 q[2]; };

        """;
}
