namespace SharpTune.Hub;

/// <summary>
/// The Hub could not be reached, or kept failing (timeouts, 429, 5xx) until the retries ran out. Downloads fall back
/// to the cache on this error, as <c>huggingface_hub</c> does.
/// </summary>
public sealed class HubUnreachableException(string message) : SharpTuneException(message);
