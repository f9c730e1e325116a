using System.CommandLine;
using SharpTune.Cli.Commands;

namespace SharpTune.Cli;

/// <summary>
/// The <c>sharptune</c> command: one subcommand per stage plus <c>doctor</c>. User errors
/// (<see cref="SharpTuneException"/>) print one line on stderr and exit non-zero; anything else is a bug and
/// prints its stack trace.
/// </summary>
public static class SharpTuneCli
{
    public static RootCommand CreateRootCommand(CliContext context)
    {
        var root = new RootCommand(
            "SharpTune: QLoRA fine-tuning of Llama-family models on .NET, GGUF export and Hugging Face Hub publishing.\n" +
            "Run 'sharptune doctor' first to check libtorch, CUDA and the GPUs.");
        root.Options.Add(GlobalOptions.LibTorch);
        root.Subcommands.Add(DoctorCommand.Create(context));
        root.Subcommands.Add(InitModelCommand.Create(context));
        root.Subcommands.Add(GenerateCommand.Create(context));
        root.Subcommands.Add(DataCommand.Create(context));
        root.Subcommands.Add(HubCommand.Create(context));
        root.Subcommands.Add(RunCommand.Create(context));
        root.Subcommands.Add(StageCommand.Create(context));
        root.Subcommands.Add(CacheCommand.Create(context));
        root.Subcommands.Add(EvaluateCommand.Create(context));
        root.Subcommands.Add(PublishCommand.Create(context));
        root.Subcommands.Add(LaunchCommand.Create(context));
        root.Subcommands.Add(ExportCommand.Create(context));
        root.Subcommands.Add(QuantizeCommand.Create(context));
        root.Subcommands.Add(TrainCommand.Create(context));
        root.Subcommands.Add(MergeCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        return root;
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var context = new CliContext(stdout, stderr);
        var root = CreateRootCommand(context);
        var parsed = root.Parse(args);
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (SharpTuneException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("cancelled");
            return 130;
        }
    }
}
