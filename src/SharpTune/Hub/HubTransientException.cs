namespace SharpTune.Hub;

/// <summary>
/// A failure worth retrying (429, 5xx, a timeout, a connection dropped mid-transfer). Thrown inside a retried
/// operation; its message is already free of secrets. <see cref="RetryAfter"/> is the server's requested wait.
/// </summary>
internal sealed class HubTransientException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
