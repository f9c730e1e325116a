namespace SharpTune.Distributed;

/// <summary>Timeouts of the rendezvous and of failure handling.</summary>
public sealed record RendezvousOptions
{
    /// <summary>How long ranks wait for the store and for each other to join.</summary>
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a barrier waits for every rank.</summary>
    public TimeSpan BarrierTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// After another rank fails, how long this process gets to stop on its own before the failure monitor ends it
    /// (null: never; the failure is only recorded and thrown from the next collective or barrier).
    /// </summary>
    public TimeSpan? ExitGraceAfterPeerFailure { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long rank 0 keeps its store up at shutdown for the others to leave.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
