using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

// One GPU, one test at a time: memory readings and timings must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
