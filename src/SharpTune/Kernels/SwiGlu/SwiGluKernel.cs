namespace SharpTune.Kernels.SwiGlu;

/// <summary>
/// Elementwise SwiGLU: forward h = silu(g) * u (silu rounded to the dtype first, as the reference does); backward
/// dg = dh * u * silu'(g), du = dh * silu(g), with silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). Grid-stride loops.
/// </summary>
public static class SwiGluKernel
{
    public const string Name = "swiglu";

    public static string Source => CudaPrelude.Source + Define("f32", "float") + Define("bf16", "bf16_t") + Define("f16", "f16_t");

    private static string Define(string suffix, string type) => $$"""

        extern "C" __global__ void swiglu_forward_{{suffix}}(const {{type}}* g, const {{type}}* u, {{type}}* h, long n)
        {
            for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
            {
                const float gv = load_{{suffix}}(g + i);
                {{type}} silu; store_{{suffix}}(&silu, gv / (1.0f + expf(-gv)));
                store_{{suffix}}(h + i, load_{{suffix}}(&silu) * load_{{suffix}}(u + i));
            }
        }

        extern "C" __global__ void swiglu_backward_{{suffix}}(const {{type}}* dh, const {{type}}* g, const {{type}}* u, {{type}}* dg, {{type}}* du, long n)
        {
            for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
            {
                const float gv = load_{{suffix}}(g + i);
                const float s = 1.0f / (1.0f + expf(-gv));
                const float d = load_{{suffix}}(dh + i);
                store_{{suffix}}(dg + i, d * load_{{suffix}}(u + i) * s * (1.0f + gv * (1.0f - s)));
                store_{{suffix}}(du + i, d * gv * s);
            }
        }

        """;
}
