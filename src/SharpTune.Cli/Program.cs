using SharpTune.Cli;

return SharpTuneCli.Run(args, Console.Out, Console.Error);
