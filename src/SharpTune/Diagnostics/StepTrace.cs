using System.Diagnostics;
using System.Globalization;
using System.Text;
using SharpTune.Models.Checkpoint;
using SharpTune.Runtime.Nvml;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Diagnostics;

/// <summary>
/// A timeline of one training step, for finding where its time and GPU memory go: named marks (micro-batch on the
/// device, each decoder layer's forward, loss, each layer's recompute and backward, optimizer) with the host time since
/// the step began and the process's GPU memory as NVML reports it. With <c>synchronize</c> each mark first waits
/// for the GPU, so the time between two marks is that section's GPU time; without it the times show how far the host
/// runs ahead of the GPU. With PyTorch's caching allocator the memory column is what the allocator has reserved
/// (it only grows); run with <c>PYTORCH_NO_CUDA_MEMORY_CACHING=1</c> to see the tensors alive at each mark.
/// Off unless a trace is installed: <see cref="Mark"/> then costs one static read. One trace per process, for
/// <c>sharptune bench</c>: every trainer in the process marks the installed trace.
/// </summary>
public sealed class StepTrace : IDisposable
{
    private static StepTrace? s_current;

    private readonly object _gate = new();
    private readonly string _path;
    private readonly int _step;
    private readonly bool _synchronize;
    private readonly Device _device;
    private readonly NvmlLibrary? _nvml;
    private readonly int _nvmlIndex;
    private readonly List<(string Label, double Milliseconds, long? Bytes)> _marks = [];
    private readonly Stopwatch _clock = new();
    private bool _active;

    private StepTrace(string path, int step, bool synchronize, Device device)
    {
        _path = path;
        _step = step;
        _synchronize = synchronize;
        _device = device;
        _nvml = device.type == DeviceType.CUDA ? NvmlLibrary.TryOpen(out _) : null;
        _nvmlIndex = GpuMemoryMeter.NvmlIndexOfCudaDevice(device.index < 0 ? 0 : device.index, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
    }

    /// <summary>
    /// Traces step <paramref name="step"/> (0-based) of the next training run on <paramref name="device"/> into
    /// <paramref name="path"/>; dispose to uninstall.
    /// </summary>
    public static StepTrace Install(string path, int step, bool synchronize, Device device)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SharpTuneException($"--trace {path}: cannot create its folder ({e.Message})", e);
        }

        var trace = new StepTrace(path, step, synchronize, device);
        if (Interlocked.CompareExchange(ref s_current, trace, null) is not null)
        {
            trace.Dispose();
            throw new InvalidOperationException("a step trace is already installed");
        }

        return trace;
    }

    /// <summary>Starts the timeline if <paramref name="step"/> is the traced step.</summary>
    public static void BeginStep(int step)
    {
        if (s_current is { } trace && trace._step == step)
        {
            lock (trace._gate)
            {
                trace._marks.Clear();
                trace._active = true;
                trace._clock.Restart();
            }

            trace.Record("step begins");
        }
    }

    /// <summary>Records a mark in the traced step (nothing when no step is being traced).</summary>
    public static void Mark(string label)
    {
        if (s_current is { _active: true } trace)
        {
            trace.Record(label);
        }
    }

    /// <summary>Ends the traced step and writes its timeline.</summary>
    public static void EndStep()
    {
        if (s_current is { _active: true } trace)
        {
            trace.Record("step ends");
            lock (trace._gate)
            {
                trace._active = false;
            }

            trace.Write();
        }
    }

    public void Dispose()
    {
        Interlocked.CompareExchange(ref s_current, null, this);
        _nvml?.Dispose();
    }

    private void Record(string label)
    {
        if (_synchronize && _device.type == DeviceType.CUDA)
        {
            cuda.synchronize(_device);
        }

        double ms = _clock.Elapsed.TotalMilliseconds;
        long? bytes = null;
        try
        {
            bytes = (long?)_nvml?.ProcessUsedBytes(_nvmlIndex, Environment.ProcessId);
        }
        catch (InvalidOperationException)
        {
        }

        lock (_gate)
        {
            _marks.Add((label, ms, bytes));
        }
    }

    private void Write()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"# step {_step + 1} on {_device}: {(_synchronize ? "each mark waits for the GPU (section = GPU time)" : "marks do not wait for the GPU (host time)")}");
        text.AppendLine("| mark | t (ms) | section (ms) | GPU memory (MiB) | change (MiB) |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        (string Label, double Milliseconds, long? Bytes)? previous = null;
        foreach (var mark in _marks)
        {
            string section = previous is null ? "" : (mark.Milliseconds - previous.Value.Milliseconds).ToString("0.00", c);
            string memory = mark.Bytes is null ? "n/a" : (mark.Bytes.Value / 1048576.0).ToString("0", c);
            string change = mark.Bytes is null || previous?.Bytes is null ? "" : ((mark.Bytes.Value - previous.Value.Bytes.Value) / 1048576.0).ToString("+0;-0;0", c);
            text.AppendLine(c, $"| {mark.Label} | {mark.Milliseconds:0.00} | {section} | {memory} | {change} |");
            previous = mark;
        }

        try
        {
            AtomicFile.WriteAllText(_path, text.ToString());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SharpTuneException($"could not write the step trace {_path}: {e.Message}", e);
        }
    }
}
