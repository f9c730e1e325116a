namespace SharpTune.Kernels.Rope;

/// <summary>
/// Rotary embedding on [batch, heads, seq, dim] with cos/sin [batch or 1, seq, dim]. One thread per (row, pair):
/// y1 = x1 c1 - x2 s1, y2 = x2 c2 + x1 s2; its transpose dx1 = dy1 c1 + dy2 s2, dx2 = dy2 c2 - dy1 s1.
/// </summary>
public static class RopeKernel
{
    public const string Name = "rope";

    public static string Source => CudaPrelude.Source + Define("f32", "float") + Define("bf16", "bf16_t") + Define("f16", "f16_t");

    private static string Define(string suffix, string type) => $$"""

        extern "C" __global__ void rope_{{suffix}}(const {{type}}* x, const {{type}}* cos, const {{type}}* sin, {{type}}* y,
            long pairs, int heads, int seq, int dim, long cosBatchStride, int backward)
        {
            const int half = dim / 2;
            for (long p = blockIdx.x * (long)blockDim.x + threadIdx.x; p < pairs; p += (long)gridDim.x * blockDim.x)
            {
                const long row = p / half;
                const int j = (int)(p % half);
                const long b = row / ((long)heads * seq);
                const long s = row % seq;
                const {{type}}* xr = x + row * dim;
                const long cs = b * cosBatchStride + s * dim;
                const float a = load_{{suffix}}(xr + j), c = load_{{suffix}}(xr + j + half);
                const float c1 = load_{{suffix}}(cos + cs + j), c2 = load_{{suffix}}(cos + cs + j + half);
                const float s1 = load_{{suffix}}(sin + cs + j), s2 = load_{{suffix}}(sin + cs + j + half);
                if (backward)
                {
                    store_{{suffix}}(y + row * dim + j, a * c1 + c * s2);
                    store_{{suffix}}(y + row * dim + j + half, c * c2 - a * s1);
                }
                else
                {
                    store_{{suffix}}(y + row * dim + j, a * c1 - c * s1);
                    store_{{suffix}}(y + row * dim + j + half, c * c2 + a * s2);
                }
            }
        }

        """;
}
