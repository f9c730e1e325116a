using SharpTune.Runtime.Nvml;

namespace SharpTune.Tests.Runtime;

public sealed class GpuMemoryMeterTests
{
    [Fact]
    public void Without_an_nvidia_driver_the_meter_reads_not_available()
    {
        if (NvmlLibrary.TryOpen(out _) is { } nvml)
        {
            nvml.Dispose();
            Assert.Skip("this host has an NVIDIA driver; the GPU tests cover the meter there");
        }

        using var meter = new GpuMemoryMeter();
        Assert.NotNull(meter.Unavailable);
        Assert.Null(meter.PeakBytes);
        Assert.Null(meter.Sample());
        Assert.Equal("n/a", GpuMemoryMeter.Format(meter.PeakBytes));
    }

    [Fact]
    public void Readings_are_formatted_in_gibibytes()
    {
        Assert.Equal("1.50 GiB", GpuMemoryMeter.Format(3L * 512 * 1024 * 1024));
    }

    [Theory]
    [InlineData(0, null, 0)]
    [InlineData(1, "", 1)]
    [InlineData(0, "3", 3)]
    [InlineData(1, "2, 5", 5)]
    [InlineData(0, "GPU-8f6b7c1e-0000-0000-0000-000000000000", 0)]
    [InlineData(2, "4,5", 2)]
    public void A_cuda_device_maps_to_its_nvml_index_through_cuda_visible_devices(int cuda, string? visible, int nvml) =>
        Assert.Equal(nvml, GpuMemoryMeter.NvmlIndexOfCudaDevice(cuda, visible));
}
