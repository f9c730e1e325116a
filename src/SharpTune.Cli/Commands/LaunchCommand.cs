using System.CommandLine;
using System.Globalization;
using SharpTune.Distributed;
using SharpTune.Distributed.Launch;
using SharpTune.Distributed.SelfTest;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune launch --gpus N -- ARGS</c>: runs <c>sharptune ARGS</c> as N ranks, one per GPU, torchrun-style.
/// Hidden: <c>--selftest store|collectives|nccl</c> launches the distributed self-test instead of ARGS, and
/// <c>--worker</c> is what each of its ranks runs.
/// </summary>
public static class LaunchCommand
{
    public static Command Create(CliContext context)
    {
        var gpus = new Option<int>("--gpus", "--nproc-per-node")
        {
            Description = "Ranks to start on this host, one per GPU (rank i gets the i-th GPU of CUDA_VISIBLE_DEVICES, else GPU i).",
            DefaultValueFactory = _ => 1,
        };
        var nodes = new Option<int>("--nnodes") { Description = "Hosts in the job; run this command on each.", DefaultValueFactory = _ => 1 };
        var nodeRank = new Option<int>("--node-rank") { Description = "This host's index, 0 to nnodes-1 (node 0 hosts rank 0 and the rendezvous store).", DefaultValueFactory = _ => 0 };
        var masterAddress = new Option<string>("--master-addr") { Description = "Node 0's address as every host reaches it.", DefaultValueFactory = _ => "127.0.0.1" };
        var masterPort = new Option<int>("--master-port") { Description = "The rendezvous port on node 0 (default: a free port; required with --nnodes > 1).", DefaultValueFactory = _ => 0 };
        var noPin = new Option<bool>("--no-gpu-pinning") { Description = "Let every rank see all GPUs and pick LOCAL_RANK (instead of one CUDA_VISIBLE_DEVICES entry each)." };
        var selfTest = new Option<string?>("--selftest") { Description = "Run the distributed self-test (store, collectives, nccl) instead of a command.", Hidden = true };
        selfTest.AcceptOnlyFromAmong([.. DistributedSelfTest.Kinds]);
        var worker = new Option<bool>("--worker") { Description = "Be one rank of the self-test (reads RANK, WORLD_SIZE, ... from the environment).", Hidden = true };
        var failRank = new Option<int>("--fail-rank") { Hidden = true, DefaultValueFactory = _ => -1 };
        var failStep = new Option<int>("--fail-at-step") { Hidden = true, DefaultValueFactory = _ => 1 };
        var failMode = new Option<string>("--fail-mode") { Hidden = true, DefaultValueFactory = _ => "exit" };
        failMode.AcceptOnlyFromAmong([.. SelfTestFailure.Modes]);
        var steps = new Option<int>("--steps") { Hidden = true, DefaultValueFactory = _ => 3 };
        var command = new Argument<string[]>("command")
        {
            Description = "The sharptune arguments every rank runs, after '--' (e.g. -- train --config run.yaml).",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var launch = new Command("launch", "Run a sharptune command on several GPUs: one process per GPU with RANK, WORLD_SIZE, LOCAL_RANK, " +
            "MASTER_ADDR and MASTER_PORT set (torchrun's conventions), output prefixed with [rank N]; if a rank fails, the others are stopped " +
            "and the error names it. Example: sharptune launch --gpus 2 -- train --config run.yaml")
        {
            gpus, nodes, nodeRank, masterAddress, masterPort, noPin, selfTest, worker, failRank, failStep, failMode, steps, command,
        };
        launch.SetAction(parsed =>
        {
            string? test = parsed.GetValue(selfTest);
            var failure = parsed.GetValue(failRank) >= 0 ? new SelfTestFailure(parsed.GetValue(failRank), parsed.GetValue(failStep), parsed.GetValue(failMode)!) : null;
            if (parsed.GetValue(worker))
            {
                if (test is null)
                {
                    throw new SharpTuneException("--worker needs --selftest");
                }

                return DistributedSelfTest.RunRank(test, failure, parsed.GetValue(steps), context.Out, context.Error, GlobalOptions.RuntimeOptions(parsed));
            }

            var (program, prefix) = SelfInvocation.Current();
            List<string> arguments = [.. prefix];
            if (parsed.GetValue(GlobalOptions.LibTorch) is { } libTorch)
            {
                arguments.AddRange(["--libtorch", libTorch]);
            }

            if (test is not null)
            {
                arguments.AddRange(["launch", "--worker", "--selftest", test, "--steps", parsed.GetValue(steps).ToString(CultureInfo.InvariantCulture)]);
                if (failure is not null)
                {
                    arguments.AddRange([
                        "--fail-rank", failure.Rank.ToString(CultureInfo.InvariantCulture),
                        "--fail-at-step", failure.AtStep.ToString(CultureInfo.InvariantCulture),
                        "--fail-mode", failure.Mode]);
                }
            }
            else
            {
                string[] rest = parsed.GetValue(command) ?? [];
                if (rest.Length == 0)
                {
                    throw new SharpTuneException("launch needs the command every rank runs after '--', e.g. sharptune launch --gpus 2 -- train --config run.yaml");
                }

                if (rest[0] == "launch")
                {
                    throw new SharpTuneException("launch cannot launch itself; give the command each rank runs, e.g. -- train --config run.yaml");
                }

                arguments.AddRange(rest);
            }

            var options = new LaunchOptions
            {
                ProcessesPerNode = parsed.GetValue(gpus),
                NodeCount = parsed.GetValue(nodes),
                NodeRank = parsed.GetValue(nodeRank),
                MasterAddress = parsed.GetValue(masterAddress)!,
                MasterPort = parsed.GetValue(masterPort),
                PinGpus = !parsed.GetValue(noPin),
                Program = program,
                Arguments = arguments,
            };
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                var result = LocalLauncher.Run(options, context.Out, context.Error, cancel.Token);
                if (!result.Succeeded)
                {
                    throw new DistributedException(result.FailureMessage!, result.ExitCode);
                }

                context.Error.WriteLine($"launch: all {options.WorldSize} ranks finished in {result.Duration.TotalSeconds:0.0} s");
                return 0;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return launch;
    }
}
