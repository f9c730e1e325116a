namespace SharpTune.Hub;

/// <summary>
/// Reads the Hub settings the way <c>huggingface_hub</c> does. Cache: <c>$HF_HUB_CACHE</c>, else
/// <c>$HUGGINGFACE_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, where <c>HF_HOME</c> defaults to
/// <c>$XDG_CACHE_HOME/huggingface</c> or <c>~/.cache/huggingface</c>. Token: <c>$HF_TOKEN</c> (or the older
/// <c>HUGGING_FACE_HUB_TOKEN</c>), else the file <c>$HF_TOKEN_PATH</c> or <c>$HF_HOME/token</c>. Endpoint:
/// <c>$HF_ENDPOINT</c>. Offline: <c>HF_HUB_OFFLINE</c> (or <c>TRANSFORMERS_OFFLINE</c>) set to 1/ON/YES/TRUE.
/// </summary>
public sealed class HubEnvironment(Func<string, string?> getVariable)
{
    public static HubEnvironment Default => new(Environment.GetEnvironmentVariable);

    private string? Get(string name) => getVariable(name) is { Length: > 0 } value ? value : null;

    public string Home => ExpandUser(Get("HF_HOME")
        ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(UserHome, ".cache"), "huggingface"));

    public string CacheDirectory => ExpandUser(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(Home, "hub"));

    public string TokenPath => ExpandUser(Get("HF_TOKEN_PATH") ?? Path.Combine(Home, "token"));

    public string Endpoint => (Get("HF_ENDPOINT") ?? HubOptions.DefaultEndpoint).TrimEnd('/');

    public bool Offline => IsTrue(Get("HF_HUB_OFFLINE") ?? Get("TRANSFORMERS_OFFLINE"));

    /// <summary>The token from the environment or the token file (trimmed), or null when there is none.</summary>
    public string? Token
    {
        get
        {
            if ((Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN"))?.Trim() is { Length: > 0 } token)
            {
                return token;
            }

            try
            {
                return File.Exists(TokenPath) && File.ReadAllText(TokenPath).Trim() is { Length: > 0 } stored ? stored : null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    private string UserHome => Get("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private string ExpandUser(string path) => path == "~" ? UserHome : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome, path[2..]) : path;

    private static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}
