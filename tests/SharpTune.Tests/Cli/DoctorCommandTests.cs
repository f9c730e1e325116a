using SharpTune.Cli;

namespace SharpTune.Tests.Cli;

public sealed class DoctorCommandTests
{
    private static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        _ = TorchFixture.Runtime;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SharpTuneCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Doctor_passes_on_this_cpu_machine_with_versions_libtorch_and_a_verdict()
    {
        var (code, output, error) = Run("doctor");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("TorchSharp       0.107.0", output);
        Assert.Matches(@"libtorch\s+\S+ \(bundled libtorch-cpu, torch 2\.10\.0, CPU build\)", output);
        Assert.Matches(@"NVML\s+n/a", output);
        Assert.Matches(@"peak GPU memory\s+n/a", output);
        Assert.Matches(@"check cpu\s+forward\+backward ok", output);
        Assert.Matches(@"verdict\s+OK: SharpTune is ready on cpu", output);
    }

    [Fact]
    public void Doctor_with_device_cuda_on_a_cpu_host_fails_with_a_clear_message()
    {
        var (code, output, error) = Run("doctor", "--device", "cuda");
        Assert.Equal(1, code);
        Assert.Contains("verdict", output);
        Assert.StartsWith("error: --device cuda requested but CUDA is not available: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void An_unknown_device_is_a_usage_error()
    {
        var (code, _, error) = Run("doctor", "--device", "tpu");
        Assert.NotEqual(0, code);
        Assert.Contains("tpu", error);
    }

    [Fact]
    public void The_tool_as_a_process_reports_a_missing_libtorch_in_one_line_without_a_stack_trace()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "SharpTune.Cli.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var result = ProcessRunner.RunWithExitCode(dotnet, new Dictionary<string, string?> { ["SHARPTUNE_LIBTORCH"] = "/no/such/dir" }, cli, "doctor");
        Assert.NotNull(result);
        var (code, stdout, stderr) = result!.Value;
        Assert.Equal(1, code);
        Assert.Equal("error: SHARPTUNE_LIBTORCH=/no/such/dir: directory does not exist", stderr.Trim());
        Assert.DoesNotContain(" at ", stderr);
        Assert.DoesNotContain("verdict", stdout);
    }

    [Fact]
    public void Help_lists_the_doctor_command_and_the_libtorch_option()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("doctor", output);
        Assert.Contains("--libtorch", output);
    }
}
