using System.Text;

namespace SharpTune.Kernels.MultiTensor;

/// <summary>
/// The global L2 norm of many gradients in two launches, reproducibly (no float atomics): <c>mt_sumsq_G</c> runs a
/// fixed grid of at most <see cref="PartialBlocks"/> CUDA blocks of 256 threads over the <see cref="MultiTensorTable"/>
/// blocks (CUDA block b takes table blocks b, b + grid, ...), each thread summing squares in float32 in that order and
/// the block reducing to one partial; <c>mt_norm_finish</c> (one block of 1024 threads) sums the partials in a fixed
/// order and writes the norm and the clip factor <c>min(1, max_norm / (norm + 1e-6))</c> (1 when max_norm &lt;= 0, NaN
/// when the norm is not finite, so a clipped update carries the divergence to the parameters, where the caller's read
/// of the norm finds it).
/// </summary>
public static class MultiTensorNormKernel
{
    public const string Name = "multi_tensor_norm";

    public const int PartialBlocks = 1024;

    public const string FinishKernel = "mt_norm_finish";

    public static string SumOfSquaresKernel(string gradientSuffix) => $"mt_sumsq_{gradientSuffix}";

    public static string Source
    {
        get
        {
            var text = new StringBuilder(CudaPrelude.Source).Append(MultiTensorTable.DeviceSource);
            foreach (var (suffix, type) in CudaPrelude.ElementTypes)
            {
                text.Append(DefineSumOfSquares(suffix, type));
            }

            return text.Append(Finish).ToString();
        }
    }

    private static string DefineSumOfSquares(string g, string gType) => $$"""

        extern "C" __global__ void mt_sumsq_{{g}}(const long long* table, int tensors, long long total_blocks, float* partials)
        {
            float sum = 0.0f;
            for (long long block = blockIdx.x; block < total_blocks; block += gridDim.x)
            {
                const long long* row = multi_tensor_row(table, tensors, block);
                const long long i = (block - row[MT_FIRST_BLOCK]) * 256 + threadIdx.x;
                if (i < row[MT_ELEMENTS])
                {
                    const float g = load_{{g}}((const {{gType}}*)row[MT_GRAD] + i);
                    sum = __fmaf_rn(g, g, sum);
                }
            }
            sum = block_sum(sum);
            if (threadIdx.x == 0) partials[blockIdx.x] = sum;
        }

        """;

    private const string Finish = """

        extern "C" __global__ void mt_norm_finish(const float* partials, int count, float max_norm, float* result)
        {
            float sum = 0.0f;
            for (int i = threadIdx.x; i < count; i += blockDim.x) sum = __fadd_rn(sum, partials[i]);
            sum = block_sum(sum);
            if (threadIdx.x == 0)
            {
                const float norm = __fsqrt_rn(sum);
                float factor = 1.0f;
                if (!(fabsf(norm) < __int_as_float(0x7f800000))) factor = __int_as_float(0x7fc00000);
                else if (max_norm > 0.0f) factor = fminf(1.0f, __fdiv_rn(max_norm, __fadd_rn(norm, 1e-6f)));
                result[0] = norm;
                result[1] = factor;
            }
        }

        """;
}
