namespace SharpTune.Kernels.CrossEntropy;

/// <summary>
/// Cross-entropy of logit rows against integer targets, and its gradient with respect to the logits, in one launch:
/// one thread block per row. The first pass over the row keeps a running maximum and a running sum of
/// exp(x - maximum) per thread (rescaled when the maximum grows) and combines them across the block, giving
/// lse = max + log(sum). Thread 0 writes the row's loss lse - x[target]; the second pass writes
/// gradient_scale * (softmax - onehot) = gradient_scale * (exp(x - lse) - [j == target]) into the gradient (any dtype
/// of the logits, computed in float32 and rounded once; the scale keeps fp16's small probabilities representable). A target outside [0, vocab) gives a NaN loss and no onehot term; a NaN logit makes the row's loss
/// and gradient NaN. The logits are read twice and never converted to float32 in memory.
/// </summary>
public static class CrossEntropyKernel
{
    public const string Name = "cross_entropy";

    /// <summary>Threads per block (one block per row).</summary>
    public const int Threads = 512;

    public static string Source => CudaPrelude.Source + Common + Define("f32", "float") + Define("bf16", "bf16_t") + Define("f16", "f16_t");

    public static string KernelName(string dtypeSuffix) => $"cross_entropy_grad_{dtypeSuffix}";

    private const string Common = """

        #define CE_NEG_INF __int_as_float(0xff800000)

        // Merges the running (maximum, sum of exp(x - maximum)) pair (m2, s2) into (m, s).
        __device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2)
        {
            const float top = fmaxf(m, m2);
            if (top == CE_NEG_INF) { s = s + s2; m = top; return; }
            s = s * expf(m - top) + s2 * expf(m2 - top);
            m = top;
        }

        // The (maximum, sum) pair over the block; every thread gets it. blockDim.x a multiple of 32, at most 1024.
        __device__ void block_lse(float& m, float& s)
        {
            __shared__ float partial_m[32], partial_s[32];
            for (int offset = 16; offset > 0; offset >>= 1)
                lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, s, offset));
            const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
            if (lane == 0) { partial_m[warp] = m; partial_s[warp] = s; }
            __syncthreads();
            m = partial_m[0]; s = partial_s[0];
            for (int w = 1; w < warps; w++) lse_merge(m, s, partial_m[w], partial_s[w]);
            __syncthreads();
        }

        """;

    private static string Define(string suffix, string type) => $$"""

        extern "C" __global__ void cross_entropy_grad_{{suffix}}(
            const {{type}}* logits, const long long* targets, float* loss, {{type}}* gradient, float gradient_scale, long vocab)
        {
            const long row = blockIdx.x;
            const {{type}}* x = logits + row * vocab;
            {{type}}* g = gradient + row * vocab;
            float m = CE_NEG_INF, s = 0.0f;
            for (long j = threadIdx.x; j < vocab; j += blockDim.x)
            {
                const float v = load_{{suffix}}(x + j);
                if (v > m) { s = (m == CE_NEG_INF ? s : s * expf(m - v)) + 1.0f; m = v; } // s is 0 or NaN while m is -inf
                else if (m != CE_NEG_INF || v != v) s += expf(v - m);
            }
            block_lse(m, s);
            const float lse = m + logf(s);
            const long long target = targets[row];
            const bool valid = target >= 0 && target < vocab;
            if (threadIdx.x == 0) loss[row] = valid ? lse - load_{{suffix}}(x + target) : __int_as_float(0x7fc00000);
            for (long j = threadIdx.x; j < vocab; j += blockDim.x)
            {
                float p = expf(load_{{suffix}}(x + j) - lse);
                if (j == target) p -= 1.0f;
                store_{{suffix}}(g + j, p * gradient_scale);
            }
        }

        """;
}
