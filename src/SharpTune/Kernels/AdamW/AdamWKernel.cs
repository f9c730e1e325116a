using System.Text;
using SharpTune.Quantization;

namespace SharpTune.Kernels.AdamW;

/// <summary>
/// AdamW for one parameter tensor in one launch, for every pair of parameter and gradient dtype (f32, bf16, f16).
/// <c>adamw32_P_G</c> keeps float32 moments in place (grid-stride, 64-bit indices). <c>adamw8_P_G</c> keeps the moments as
/// 8-bit dynamic codes with one float32 absmax per block of 256 (<see cref="BlockwiseQuantized"/>): one thread block
/// per quantization block, one thread per element; each thread dequantizes its m (signed map) and v (unsigned map),
/// updates, the block reduces max |m| and max |v| (padding past n counts as 0), and each value is re-encoded as the
/// number of map midpoints strictly below value / absmax (absmax 0 divides by 1): torch.bucketize with right=false,
/// as the reference does. Arithmetic follows <see cref="AdamWReference"/> op by op with explicit roundings; the
/// fused multiply-adds are where PyTorch's own kernels compute <c>a + alpha * b</c> (add with alpha; addcmul as a + alpha * (b * c)).
/// Scalars arrive as the float32 values PyTorch's ops use: 1 - b1 and 1 - b2 rounded from double, 1 / sqrt(bc2)
/// (division by a CPU scalar multiplies by its float reciprocal), lr / bc1 and 1 - lr * wd.
/// Maps and midpoints are baked in as float32 bit patterns and copied to shared memory per block.
/// </summary>
public static class AdamWKernel
{
    public const string Name = "adamw";

    /// <summary>The quantization block size <c>adamw8_*</c> is written for: one thread per element.</summary>
    public const int QuantizationBlockSize = 256;

    public static string Source
    {
        get
        {
            var text = new StringBuilder(CudaPrelude.Source)
                .Append(CudaPrelude.FloatTable("adamw_signed_map", DynamicQuantizationMap.Signed))
                .Append(CudaPrelude.FloatTable("adamw_unsigned_map", DynamicQuantizationMap.Unsigned))
                .Append(CudaPrelude.FloatTable("adamw_signed_midpoints", DynamicQuantizationMap.Midpoints(DynamicQuantizationMap.Signed)))
                .Append(CudaPrelude.FloatTable("adamw_unsigned_midpoints", DynamicQuantizationMap.Midpoints(DynamicQuantizationMap.Unsigned)))
                .Append(Common);
            foreach (var (gradientSuffix, gradientType) in CudaPrelude.ElementTypes)
            {
                text.Append(DefineGradientLoad(gradientSuffix, gradientType));
            }

            return text.Append(ForEachDtypePair(Define)).ToString();
        }
    }

    /// <summary>
    /// <paramref name="define"/>'s text for every pair of parameter and gradient dtype, given as (parameter suffix, C type,
    /// gradient suffix, C type); the multi-tensor kernels (<see cref="MultiTensorAdamWKernel"/>) are made the same way.
    /// </summary>
    internal static string ForEachDtypePair(Func<string, string, string, string, string> define)
    {
        var text = new StringBuilder();
        foreach (var (parameterSuffix, parameterType) in CudaPrelude.ElementTypes)
        {
            foreach (var (gradientSuffix, gradientType) in CudaPrelude.ElementTypes)
            {
                text.Append(define(parameterSuffix, parameterType, gradientSuffix, gradientType));
            }
        }

        return text.ToString();
    }

    /// <summary>The kernel name for float32 (<paramref name="eightBit"/> false) or 8-bit moments and the two dtype suffixes.</summary>
    public static string KernelName(bool eightBit, string parameterSuffix, string gradientSuffix) =>
        $"adamw{(eightBit ? 8 : 32)}_{parameterSuffix}_{gradientSuffix}";

    // The update of one element, shared by both kernels: m and v in, updated m and v out, the new parameter returned.
    private const string Common = """

        struct adamw_scalars { float beta1, one_minus_beta1, beta2, one_minus_beta2, inv_sqrt_bc2, eps, step_size, decay; };
        #define ADAMW_SCALAR_PARAMETERS float beta1, float one_minus_beta1, float beta2, float one_minus_beta2, \
            float inv_sqrt_bc2, float eps, float step_size, float decay
        #define ADAMW_SCALARS { beta1, one_minus_beta1, beta2, one_minus_beta2, inv_sqrt_bc2, eps, step_size, decay }

        __device__ __forceinline__ float adamw_element(float p, float g, float& m, float& v, const adamw_scalars s)
        {
            m = __fmaf_rn(s.one_minus_beta1, g, __fmul_rn(m, s.beta1));
            v = __fmaf_rn(s.one_minus_beta2, __fmul_rn(g, g), __fmul_rn(v, s.beta2));
            const float denominator = __fadd_rn(__fmul_rn(__fsqrt_rn(v), s.inv_sqrt_bc2), s.eps);
            const float update = __fmul_rn(__fdiv_rn(m, denominator), s.step_size);
            return __fsub_rn(__fmul_rn(p, s.decay), update);
        }

        // The number of the 255 sorted midpoints strictly below x (torch.bucketize, right=false): 8 halving steps.
        __device__ __forceinline__ unsigned char adamw_encode(const float* midpoints, float x)
        {
            int position = 0;
            for (int half = 128; half > 0; half >>= 1)
                if (midpoints[position + half - 1] < x) position += half;
            return (unsigned char)position;
        }

        // max over the block (256 threads) of a and of b; every thread gets both.
        __device__ __forceinline__ void adamw_block_max2(float& a, float& b)
        {
            __shared__ float partial[2][8];
            for (int offset = 16; offset > 0; offset >>= 1)
            {
                a = fmaxf(a, __shfl_xor_sync(0xffffffffu, a, offset));
                b = fmaxf(b, __shfl_xor_sync(0xffffffffu, b, offset));
            }
            const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
            if (lane == 0) { partial[0][warp] = a; partial[1][warp] = b; }
            __syncthreads();
            a = partial[0][0]; b = partial[1][0];
            for (int w = 1; w < 8; w++) { a = fmaxf(a, partial[0][w]); b = fmaxf(b, partial[1][w]); }
            __syncthreads();
        }

        // The two dynamic maps and their midpoints in shared memory, loaded by the block's 256 threads.
        struct adamw_maps { float signed_map[256], unsigned_map[256], signed_midpoints[256], unsigned_midpoints[256]; };

        __device__ __forceinline__ void adamw_load_maps(adamw_maps& maps)
        {
            const int t = threadIdx.x;
            maps.signed_map[t] = __uint_as_float(adamw_signed_map[t]);
            maps.unsigned_map[t] = __uint_as_float(adamw_unsigned_map[t]);
            if (t < 255)
            {
                maps.signed_midpoints[t] = __uint_as_float(adamw_signed_midpoints[t]);
                maps.unsigned_midpoints[t] = __uint_as_float(adamw_unsigned_midpoints[t]);
            }
            __syncthreads();
        }

        """;

    // The gradient at i as float32, times *scale when scale is given (the clip factor), then zeroed in place when asked.
    private static string DefineGradientLoad(string g, string gType) => $$"""

        __device__ __forceinline__ float adamw_gradient_{{g}}({{gType}}* grad, long long i, const float* scale, bool zero)
        {
            float value = load_{{g}}(grad + i);
            if (scale) value = __fmul_rn(value, *scale);
            if (zero) store_{{g}}(grad + i, 0.0f);
            return value;
        }

        """;

    // The update of element i with float32 moments, and of one quantization block with 8-bit moments (all 256 threads of
    // the block call it: it synchronizes), shared by the per-tensor kernels below and the multi-tensor ones.
    private static string Define(string p, string pType, string g, string gType) => $$"""

        __device__ __forceinline__ void adamw32_element_{{p}}_{{g}}({{pType}}* param, {{gType}}* grad, float* exp_avg, float* exp_avg_sq,
            long long i, const adamw_scalars& s, const float* scale, bool zero)
        {
            float m = exp_avg[i], v = exp_avg_sq[i];
            store_{{p}}(param + i, adamw_element(load_{{p}}(param + i), adamw_gradient_{{g}}(grad, i, scale, zero), m, v, s));
            exp_avg[i] = m;
            exp_avg_sq[i] = v;
        }

        __device__ __forceinline__ void adamw8_block_{{p}}_{{g}}({{pType}}* param, {{gType}}* grad, unsigned char* m_codes, float* m_absmax,
            unsigned char* v_codes, float* v_absmax, long long n, long long block, const adamw_maps& maps, const adamw_scalars& s,
            const float* scale, bool zero)
        {
            const int t = threadIdx.x;
            const long long i = block * 256 + t;
            const bool inside = i < n;
            float m = 0.0f, v = 0.0f;
            if (inside)
            {
                m = __fmul_rn(maps.signed_map[m_codes[i]], m_absmax[block]);
                v = __fmul_rn(maps.unsigned_map[v_codes[i]], v_absmax[block]);
                store_{{p}}(param + i, adamw_element(load_{{p}}(param + i), adamw_gradient_{{g}}(grad, i, scale, zero), m, v, s));
            }
            float m_max = fabsf(m), v_max = fabsf(v);
            adamw_block_max2(m_max, v_max);
            if (t == 0) { m_absmax[block] = m_max; v_absmax[block] = v_max; }
            if (inside)
            {
                m_codes[i] = adamw_encode(maps.signed_midpoints, __fdiv_rn(m, m_max > 0.0f ? m_max : 1.0f));
                v_codes[i] = adamw_encode(maps.unsigned_midpoints, __fdiv_rn(v, v_max > 0.0f ? v_max : 1.0f));
            }
        }

        extern "C" __global__ void adamw32_{{p}}_{{g}}(
            {{pType}}* param, const {{gType}}* grad, float* exp_avg, float* exp_avg_sq, ADAMW_SCALAR_PARAMETERS, long n)
        {
            const adamw_scalars s = ADAMW_SCALARS;
            for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
                adamw32_element_{{p}}_{{g}}(param, ({{gType}}*)grad, exp_avg, exp_avg_sq, i, s, nullptr, false);
        }

        // blockDim.x must be 256, the quantization block size.
        extern "C" __global__ void adamw8_{{p}}_{{g}}(
            {{pType}}* param, const {{gType}}* grad, unsigned char* m_codes, float* m_absmax,
            unsigned char* v_codes, float* v_absmax, ADAMW_SCALAR_PARAMETERS, long n)
        {
            const adamw_scalars s = ADAMW_SCALARS;
            __shared__ adamw_maps maps;
            adamw_load_maps(maps);
            const long blocks = (n + 255) / 256;
            for (long block = blockIdx.x; block < blocks; block += gridDim.x)
                adamw8_block_{{p}}_{{g}}(param, ({{gType}}*)grad, m_codes, m_absmax, v_codes, v_absmax, n, block, maps, s, nullptr, false);
        }

        """;
}
