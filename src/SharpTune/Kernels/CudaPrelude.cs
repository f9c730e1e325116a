using System.Globalization;
using System.Text;

namespace SharpTune.Kernels;

/// <summary>
/// CUDA C++ shared by SharpTune's kernels: element loads and stores for fp32, bf16 and fp16 (bit-level, so NVRTC
/// needs no CUDA headers) and a block-wide sum. bf16 stores round to nearest even, as PyTorch does.
/// </summary>
public static class CudaPrelude
{
    public const string Source = """
        typedef unsigned short bf16_t;
        typedef unsigned short f16_t;

        __device__ __forceinline__ float load_f32(const float* p) { return *p; }
        __device__ __forceinline__ void store_f32(float* p, float v) { *p = v; }

        __device__ __forceinline__ float load_bf16(const bf16_t* p) { return __uint_as_float(((unsigned int)*p) << 16); }
        __device__ __forceinline__ void store_bf16(bf16_t* p, float v)
        {
            unsigned int u = __float_as_uint(v);
            if ((u & 0x7fffffffu) > 0x7f800000u) { *p = (bf16_t)((u >> 16) | 0x40u); return; }
            u += 0x7fffu + ((u >> 16) & 1u);
            *p = (bf16_t)(u >> 16);
        }

        __device__ __forceinline__ float load_f16(const f16_t* p)
        {
            float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(*p)); return f;
        }
        __device__ __forceinline__ void store_f16(f16_t* p, float v)
        {
            f16_t h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v)); *p = h;
        }

        // Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
        __device__ float block_sum(float v)
        {
            __shared__ float partial[32];
            for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
            int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
            if (lane == 0) partial[warp] = v;
            __syncthreads();
            int warps = blockDim.x >> 5;
            v = threadIdx.x < warps ? partial[threadIdx.x] : 0.0f;
            if (warp == 0)
                for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
            if (threadIdx.x == 0) partial[0] = v;
            __syncthreads();
            v = partial[0];
            __syncthreads();
            return v;
        }

        """;

    /// <summary>The element types the prelude loads and stores: kernel-name suffix (<see cref="FusedKernels.DtypeSuffix"/>) and C type.</summary>
    public static IReadOnlyList<(string Suffix, string Type)> ElementTypes { get; } = [("f32", "float"), ("bf16", "bf16_t"), ("f16", "f16_t")];

    /// <summary>A <c>__constant__ unsigned int</c> array of float32 bit patterns (exact values, no decimal round trip).</summary>
    public static string FloatTable(string name, IReadOnlyList<float> values)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"\n__constant__ unsigned int {name}[{values.Count}] = {{");
        for (int i = 0; i < values.Count; i++)
        {
            text.Append(i % 8 == 0 ? "\n    " : " ")
                .Append(CultureInfo.InvariantCulture, $"0x{BitConverter.SingleToUInt32Bits(values[i]):x8}u,");
        }

        return text.Append("\n};\n").ToString();
    }
}
