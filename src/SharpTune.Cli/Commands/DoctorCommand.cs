using System.CommandLine;
using SharpTune.Diagnostics;

namespace SharpTune.Cli.Commands;

/// <summary><c>sharptune doctor</c>: checks the installation and prints a verdict line.</summary>
public static class DoctorCommand
{
    public static Command Create(CliContext context)
    {
        var device = new Option<string>("--device")
        {
            Description = "The device you need: auto (CPU, and CUDA where present), cpu, or cuda (fail if there is no usable GPU).",
            DefaultValueFactory = _ => "auto",
        };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");

        var command = new Command("doctor", "Check SharpTune's setup: versions, libtorch, CUDA, GPUs, NVML, and a forward/backward pass on each device.")
        {
            device,
        };
        command.SetAction(parsed =>
        {
            var report = DoctorReport.Run(GlobalOptions.RuntimeOptions(parsed), parsed.GetValue(device)!);
            report.WriteTo(context.Out);
            if (!report.Passed)
            {
                context.Error.WriteLine("error: " + report.Verdict["FAIL: ".Length..]);
            }

            return report.Passed ? 0 : 1;
        });
        return command;
    }
}
