using System.Reflection;
using System.Runtime.InteropServices;
using SharpTune.Runtime;
using SharpTune.Runtime.Nvml;
using TorchSharp;

namespace SharpTune.Diagnostics;

/// <summary>
/// Everything <c>sharptune doctor</c> reports: versions, the libtorch in use and where it came from, CUDA, the GPUs,
/// the NVML driver version, and a forward/backward check on each device.
/// </summary>
public sealed record DoctorReport(
    IReadOnlyList<(string Label, string Value)> Facts,
    IReadOnlyList<DeviceSmokeTest.Result> Checks,
    bool Passed,
    string Verdict)
{
    /// <summary>What the user needs: <c>auto</c> (CPU at least, CUDA if present), <c>cpu</c> or <c>cuda</c>.</summary>
    public static DoctorReport Run(TorchRuntimeOptions options, string requiredDevice = "auto")
    {
        if (requiredDevice is not ("auto" or "cpu" or "cuda"))
        {
            throw new SharpTuneException($"--device {requiredDevice}: expected auto, cpu or cuda");
        }

        var facts = new List<(string, string)>
        {
            ("SharpTune", Version(typeof(DoctorReport).Assembly)),
            (".NET", $"{RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})"),
            ("OS", RuntimeInformation.OSDescription),
        };

        var runtime = TorchRuntime.Initialize(options);
        facts.Add(("TorchSharp", runtime.TorchSharpVersion));
        facts.Add(("libtorch", runtime.LibTorch.Describe()));
        facts.Add(("LibTorchSharp", runtime.UsesCompatibleLibTorchSharp
            ? $"{runtime.LibTorchSharpPath} (compatible copy: this libstdc++ tops out at {runtime.LibStdCxx?.NewestGlibcxx})"
            : runtime.LibTorchSharpPath));
        facts.Add(("CUDA", runtime.CudaAvailable
            ? $"available, {runtime.CudaDeviceCount} device(s)"
            : runtime.LibTorch.HasCuda ? "not available (CUDA libtorch, but no usable GPU or driver)" : "not available (CPU build of libtorch)"));
        facts.Add(("CUDA allocator", $"{CudaAllocatorSettings.Variable} {CudaAllocatorSettings.Read()}"));

        IReadOnlyList<GpuDeviceInfo> gpus = [];
        using (var nvml = NvmlLibrary.TryOpen(out string? nvmlMissing))
        {
            if (nvml is null)
            {
                facts.Add(("NVML", "n/a: " + nvmlMissing));
            }
            else
            {
                facts.Add(("NVML driver", nvml.DriverVersion()));
                gpus = nvml.Devices();
                foreach (var gpu in gpus)
                {
                    facts.Add(($"GPU {gpu.Index}", $"{gpu.Name}, {gpu.TotalMemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB, compute capability {gpu.ComputeCapability}, bf16 {(gpu.SupportsBf16 ? "yes" : "no")}"));
                }
            }
        }

        var checks = new List<DeviceSmokeTest.Result> { DeviceSmokeTest.Run(torch.CPU, tryBf16: false) };
        using var meter = new GpuMemoryMeter();
        for (int i = 0; i < runtime.CudaDeviceCount; i++)
        {
            bool bf16 = i < gpus.Count && gpus[i].SupportsBf16;
            checks.Add(DeviceSmokeTest.Run(new torch.Device(DeviceType.CUDA, i), bf16));
        }

        meter.Sample();
        facts.Add(("peak GPU memory", $"{GpuMemoryMeter.Format(meter.PeakBytes)}{(meter.Unavailable is null ? $" ({meter.Source})" : "")}"));

        bool checksPassed = checks.All(c => c.Passed);
        string devices = string.Join(", ", checks.Where(c => c.Passed).Select(c => c.Device));
        if (requiredDevice == "cuda" && !runtime.CudaAvailable)
        {
            string why = !runtime.LibTorch.HasCuda
                ? $"the libtorch in use ({runtime.LibTorch.Directory}) is a CPU build; point {LibTorchLocator.DirectoryVariable} at a CUDA libtorch such as PyTorch's torch/lib"
                : gpus.Count == 0 ? "no NVIDIA GPU or driver found" : "libtorch sees no usable GPU";
            return new DoctorReport(facts, checks, false, $"FAIL: --device cuda requested but CUDA is not available: {why}");
        }

        if (!checksPassed)
        {
            var failed = checks.First(c => !c.Passed);
            return new DoctorReport(facts, checks, false, $"FAIL: the check on {failed.Device} failed: {failed.Failure}");
        }

        return new DoctorReport(facts, checks, true, $"OK: SharpTune is ready on {devices}");
    }

    public void WriteTo(TextWriter writer)
    {
        int width = Facts.Select(f => f.Label.Length).Append(12).Max() + 2;
        foreach (var (label, value) in Facts)
        {
            writer.WriteLine(label.PadRight(width) + value);
        }

        foreach (var check in Checks)
        {
            string label = ("check " + check.Device).PadRight(width);
            string bf16 = check.Bf16RelativeError is { } e ? $", bf16 rel. error {e:E1}" : "";
            writer.WriteLine(check.Passed
                ? $"{label}forward+backward ok in {check.Elapsed.TotalMilliseconds:0} ms (fp32 rel. error {check.RelativeError:E1}{bf16})"
                : $"{label}FAILED: {check.Failure}");
        }

        writer.WriteLine("verdict".PadRight(width) + Verdict);
    }

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? assembly.GetName().Version?.ToString() ?? "unknown";
}
