using System.Runtime.Versioning;

// SharpTune runs on linux-x64 only (TorchSharp's natives and libtorch are linux-x64 builds here).
[assembly: SupportedOSPlatform("linux")]
