namespace SharpTune.Distributed;

/// <summary>Which collectives a multi-process job uses.</summary>
public enum CollectiveBackendKind
{
    /// <summary>NCCL when this process sees a CUDA GPU, else the store.</summary>
    Auto,

    /// <summary>NCCL on CUDA tensors (the real thing).</summary>
    Nccl,

    /// <summary>Through the rendezvous store on CPU tensors (tests, debugging).</summary>
    Store,
}
