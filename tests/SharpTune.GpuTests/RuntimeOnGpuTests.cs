using SharpTune.Cli;
using SharpTune.Diagnostics;
using SharpTune.Runtime.Nvml;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.GpuTests;

public sealed class RuntimeOnGpuTests(ITestOutputHelper output)
{
    [Fact]
    public void Cuda_libtorch_is_loaded_from_the_hosts_pytorch()
    {
        var info = CudaFixture.Runtime;
        output.WriteLine(info.LibTorch.Describe());
        Assert.True(info.LibTorch.HasCuda);
        Assert.True(info.CudaDeviceCount >= 1);
    }

    [Fact]
    public void Nvml_reports_a_bf16_capable_gpu()
    {
        _ = CudaFixture.Runtime;
        using var nvml = NvmlLibrary.TryOpen(out string? why);
        Assert.True(nvml is not null, why);
        var gpu = nvml!.Devices()[0];
        output.WriteLine($"{gpu.Name} {gpu.ComputeCapability} {gpu.TotalMemoryBytes}");
        Assert.True(gpu.SupportsBf16);
        Assert.True(gpu.TotalMemoryBytes > 16UL << 30);
    }

    [Fact]
    public void Forward_and_backward_on_cuda_match_the_float64_reference_in_fp32_and_bf16()
    {
        _ = CudaFixture.Runtime;
        var result = DeviceSmokeTest.Run(CUDA, tryBf16: true);
        output.WriteLine($"fp32 {result.RelativeError:E2} bf16 {result.Bf16RelativeError:E2}");
        Assert.True(result.Passed, result.Failure);
        Assert.True(result.RelativeError < 1e-3);
        Assert.InRange(result.Bf16RelativeError!.Value, 1e-5, 3e-2); // bf16 really ran: not exact, not garbage
    }

    [Fact]
    public void The_memory_meter_sees_a_one_gibibyte_allocation_and_keeps_the_peak()
    {
        _ = CudaFixture.Runtime;
        using var meter = new GpuMemoryMeter(0, TimeSpan.FromMilliseconds(5));
        Assert.Null(meter.Unavailable);
        long before = meter.Sample()!.Value;
        long peakWhileHeld;
        using (var block = empty([256, 1024, 1024], dtype: float32, device: CUDA))
        {
            block.fill_(1.0f);
            cuda.synchronize();
            peakWhileHeld = meter.Sample()!.Value;
        }

        output.WriteLine($"{meter.Source}: before {before}, held {peakWhileHeld}, peak {meter.PeakBytes}");
        Assert.True(peakWhileHeld - before >= 1L << 30, $"meter saw {peakWhileHeld - before} bytes more");
        Assert.True(meter.PeakBytes >= peakWhileHeld);
    }

    [Fact]
    public void Doctor_with_device_cuda_passes_and_reports_the_gpu()
    {
        _ = CudaFixture.Runtime;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(["doctor", "--device", "cuda"], stdout, stderr);
        output.WriteLine(stdout.ToString());
        Assert.Equal(0, code);
        Assert.Contains("check cuda:0", stdout.ToString());
        Assert.Contains("bf16 yes", stdout.ToString());
        Assert.Matches(@"verdict\s+OK: SharpTune is ready on cpu, cuda:0", stdout.ToString());
    }
}
