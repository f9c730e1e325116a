namespace SharpTune.Distributed;

/// <summary>A rendezvous step (connect, wait for a key, a barrier) did not finish in time.</summary>
public sealed class DistributedTimeoutException(string message) : DistributedException(message);
