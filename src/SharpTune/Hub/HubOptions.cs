namespace SharpTune.Hub;

/// <summary>
/// Settings of a <see cref="HubClient"/>: where the Hub is, the token, the cache, offline mode, parallelism and the
/// retry policy. <see cref="FromEnvironment"/> reads the same environment variables and files as Python's
/// <c>huggingface_hub</c>, so both share one cache and one login. <see cref="ToString"/> never shows the token.
/// </summary>
public sealed record HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base URL, without a trailing slash (<c>HF_ENDPOINT</c>).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>The access token, or null for anonymous access. Sent only to <see cref="Endpoint"/>'s host.</summary>
    public string? Token { get; init; }

    /// <summary>The cache root, laid out like <c>huggingface_hub</c>'s (<c>models--org--name/{blobs,snapshots,refs}</c>).</summary>
    public string CacheDirectory { get; init; } = HubEnvironment.Default.CacheDirectory;

    /// <summary>Serve only from the cache and fail clearly when something is missing (<c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool Offline { get; init; }

    /// <summary>How many files download at once.</summary>
    public int MaxParallelDownloads { get; init; } = 8;

    /// <summary>How many times a request is retried after a 429, a 5xx, a timeout or a dropped connection.</summary>
    public int MaxRetries { get; init; } = 6;

    /// <summary>The first retry delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest computed backoff delay.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait a server's Retry-After may ask for; longer requests fail instead of hanging.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Time allowed for a request's response headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time allowed between two reads of a response body before the transfer counts as stalled.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Optional log lines (retries, skipped files); never contains the token.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Settings from <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c> or the token file, <c>HF_HUB_CACHE</c>/<c>HF_HOME</c>, <c>HF_HUB_OFFLINE</c>.</summary>
    public static HubOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        var environment = getVariable is null ? HubEnvironment.Default : new HubEnvironment(getVariable);
        return new HubOptions
        {
            Endpoint = environment.Endpoint,
            Token = environment.Token,
            CacheDirectory = environment.CacheDirectory,
            Offline = environment.Offline,
        };
    }

    public override string ToString() =>
        $"HubOptions {{ Endpoint = {Endpoint}, Token = {(Token is null ? "none" : "set (hidden)")}, CacheDirectory = {CacheDirectory}, Offline = {Offline} }}";
}
