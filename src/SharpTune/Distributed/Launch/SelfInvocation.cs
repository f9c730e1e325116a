using System.Reflection;

namespace SharpTune.Distributed.Launch;

/// <summary>How to start this same tool again: the apphost, or <c>dotnet</c> with the entry assembly.</summary>
public static class SelfInvocation
{
    /// <summary>The program and the arguments that come before the tool's own arguments.</summary>
    public static (string Program, IReadOnlyList<string> PrefixArguments) Current()
    {
        string process = Environment.ProcessPath ?? throw new DistributedException("cannot tell which program this process runs");
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            string entry = Assembly.GetEntryAssembly()?.Location is { Length: > 0 } location
                ? location
                : throw new DistributedException("cannot tell which assembly this process runs");
            return (process, [entry]);
        }

        return (process, []);
    }
}
