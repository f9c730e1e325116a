namespace SharpTune.Kernels.RmsNorm;

/// <summary>
/// Fused RMSNorm forward and backward, one block per row, fp32 accumulation. Forward writes y and the per-row
/// 1/rms (kept for backward); backward writes dx = r (g - n mean(g n)) with n = x r and g = dy w.
/// The weight gradient, needed only when the norm is trained, is left to a TorchSharp reduction.
/// </summary>
public static class RmsNormKernel
{
    public const string Name = "rmsnorm";

    public static string Source => CudaPrelude.Source + Define("f32", "float") + Define("bf16", "bf16_t") + Define("f16", "f16_t");

    private static string Define(string suffix, string type) => $$"""

        extern "C" __global__ void rmsnorm_forward_{{suffix}}(const {{type}}* x, const {{type}}* w, {{type}}* y, float* rstd, int cols, float eps)
        {
            const long row = blockIdx.x;
            const {{type}}* xr = x + row * cols;
            {{type}}* yr = y + row * cols;
            float sum = 0.0f;
            for (int i = threadIdx.x; i < cols; i += blockDim.x) { float v = load_{{suffix}}(xr + i); sum += v * v; }
            sum = block_sum(sum);
            const float r = rsqrtf(sum / (float)cols + eps);
            if (threadIdx.x == 0) rstd[row] = r;
            for (int i = threadIdx.x; i < cols; i += blockDim.x)
            {
                {{type}} n; store_{{suffix}}(&n, load_{{suffix}}(xr + i) * r);   // rounded to the input dtype, as HF does
                store_{{suffix}}(yr + i, load_{{suffix}}(w + i) * load_{{suffix}}(&n));
            }
        }

        extern "C" __global__ void rmsnorm_backward_{{suffix}}(const {{type}}* dy, const {{type}}* x, const {{type}}* w, const float* rstd, {{type}}* dx, int cols)
        {
            const long row = blockIdx.x;
            const {{type}}* dyr = dy + row * cols;
            const {{type}}* xr = x + row * cols;
            {{type}}* dxr = dx + row * cols;
            const float r = rstd[row];
            float dot = 0.0f;
            for (int i = threadIdx.x; i < cols; i += blockDim.x)
                dot += load_{{suffix}}(dyr + i) * load_{{suffix}}(w + i) * load_{{suffix}}(xr + i) * r;
            const float mean = block_sum(dot) / (float)cols;
            for (int i = threadIdx.x; i < cols; i += blockDim.x)
            {
                const float n = load_{{suffix}}(xr + i) * r;
                const float g = load_{{suffix}}(dyr + i) * load_{{suffix}}(w + i);
                store_{{suffix}}(dxr + i, r * (g - n * mean));
            }
        }

        """;
}
