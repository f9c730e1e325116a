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
}
