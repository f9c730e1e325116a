using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Diagnostics;

/// <summary>
/// One tiny forward and backward pass (a linear layer, GELU, a sum) on a device, checked against the same pass in
/// float64 on the CPU; on GPUs with bf16, the pass runs again in bf16.
/// </summary>
public static class DeviceSmokeTest
{
    public sealed record Result(string Device, bool Passed, double RelativeError, double? Bf16RelativeError, TimeSpan Elapsed, string? Failure);

    public static Result Run(Device device, bool tryBf16)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        try
        {
            var generator = new Generator(3407);
            var x = randn([8, 16], dtype: float64, generator: generator);
            var w = randn([16, 16], dtype: float64, generator: generator);
            var (referenceOut, referenceGrad) = ForwardBackward(x, w, float64, CPU);
            var (out32, grad32) = ForwardBackward(x, w, float32, device);
            double error = Math.Max(RelativeError(out32, referenceOut), RelativeError(grad32, referenceGrad));
            double? bf16Error = null;
            if (tryBf16)
            {
                var (out16, grad16) = ForwardBackward(x, w, bfloat16, device);
                bf16Error = Math.Max(RelativeError(out16, referenceOut), RelativeError(grad16, referenceGrad));
            }

            bool passed = error < 1e-3 && (bf16Error is null || bf16Error < 3e-2);
            return new Result(device.ToString(), passed, error, bf16Error, clock.Elapsed,
                passed ? null : $"results differ from the float64 reference (fp32 {error:E1}, bf16 {bf16Error?.ToString("E1") ?? "-"})");
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return new Result(device.ToString(), false, double.NaN, null, clock.Elapsed, e.Message.Split('\n')[0]);
        }
    }

    private static (Tensor Output, Tensor Gradient) ForwardBackward(Tensor x, Tensor w, ScalarType dtype, Device device)
    {
        var input = x.to(dtype, device);
        var weight = w.to(dtype, device).detach().requires_grad_(true);
        var output = nn.functional.gelu(matmul(input, weight));
        output.sum().backward();
        if (device.type == DeviceType.CUDA)
        {
            cuda.synchronize(device);
        }

        return (output.detach().to(float64, CPU), weight.grad!.to(float64, CPU));
    }

    private static double RelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).norm().item<double>() / Math.Max(expected.norm().item<double>(), 1e-30);
}
