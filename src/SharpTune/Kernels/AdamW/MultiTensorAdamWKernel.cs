using SharpTune.Kernels.MultiTensor;

namespace SharpTune.Kernels.AdamW;

/// <summary>
/// AdamW over many tensors in one launch: <c>adamw32_multi_P_G</c> (float32 moments) and <c>adamw8_multi_P_G</c>
/// (8-bit block-wise moments) take a <see cref="MultiTensorTable"/> and give each of its 256-element blocks a CUDA block
/// of 256 threads (grid-stride over blocks), which finds its tensor by binary search and runs the per-tensor kernels'
/// own device functions (<see cref="AdamWKernel"/>) on that block: the same operations in the same order, so the
/// result is bit-identical to one <see cref="AdamWKernel"/> launch per tensor. Each gradient is multiplied in float32 by
/// <c>*scale</c> when a scale pointer is given (the clip factor, read on the device), and zeroed after it is read when
/// <c>zero</c> is 1.
/// </summary>
public static class MultiTensorAdamWKernel
{
    public const string Name = "adamw_multi";

    public static string Source => AdamWKernel.Source + MultiTensorTable.DeviceSource + AdamWKernel.ForEachDtypePair(Define);

    /// <summary>The kernel name for float32 (<paramref name="eightBit"/> false) or 8-bit moments and the two dtype suffixes.</summary>
    public static string KernelName(bool eightBit, string parameterSuffix, string gradientSuffix) =>
        $"adamw{(eightBit ? 8 : 32)}_multi_{parameterSuffix}_{gradientSuffix}";

    private static string Define(string p, string pType, string g, string gType) => $$"""

        extern "C" __global__ void adamw32_multi_{{p}}_{{g}}(
            const long long* table, int tensors, long long total_blocks, const float* scale, int zero, ADAMW_SCALAR_PARAMETERS)
        {
            const adamw_scalars s = ADAMW_SCALARS;
            for (long long block = blockIdx.x; block < total_blocks; block += gridDim.x)
            {
                const long long* row = multi_tensor_row(table, tensors, block);
                const long long i = (block - row[MT_FIRST_BLOCK]) * 256 + threadIdx.x;
                if (i < row[MT_ELEMENTS])
                    adamw32_element_{{p}}_{{g}}(({{pType}}*)row[MT_PARAM], ({{gType}}*)row[MT_GRAD], (float*)row[MT_FIRST], (float*)row[MT_SECOND],
                        i, s, scale, zero != 0);
            }
        }

        // blockDim.x must be 256, the quantization block size; each table block is one quantization block of one tensor.
        extern "C" __global__ void adamw8_multi_{{p}}_{{g}}(
            const long long* table, int tensors, long long total_blocks, const float* scale, int zero, ADAMW_SCALAR_PARAMETERS)
        {
            const adamw_scalars s = ADAMW_SCALARS;
            __shared__ adamw_maps maps;
            adamw_load_maps(maps);
            for (long long block = blockIdx.x; block < total_blocks; block += gridDim.x)
            {
                const long long* row = multi_tensor_row(table, tensors, block);
                adamw8_block_{{p}}_{{g}}(({{pType}}*)row[MT_PARAM], ({{gType}}*)row[MT_GRAD],
                    (unsigned char*)row[MT_FIRST], (float*)row[MT_FIRST_ABSMAX], (unsigned char*)row[MT_SECOND], (float*)row[MT_SECOND_ABSMAX],
                    row[MT_ELEMENTS], block - row[MT_FIRST_BLOCK], maps, s, scale, zero != 0);
            }
        }

        """;
}
