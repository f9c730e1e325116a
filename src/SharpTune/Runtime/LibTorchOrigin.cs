namespace SharpTune.Runtime;

/// <summary>Where the libtorch that SharpTune loads came from, in the order they are tried.</summary>
public enum LibTorchOrigin
{
    /// <summary>The --libtorch option (or <see cref="TorchRuntimeOptions.LibTorchDirectory"/>).</summary>
    Option,

    /// <summary>The SHARPTUNE_LIBTORCH environment variable.</summary>
    Environment,

    /// <summary>The libtorch-cpu natives shipped with the application.</summary>
    Bundled,

    /// <summary>An installed PyTorch found through python3.</summary>
    Python,
}
