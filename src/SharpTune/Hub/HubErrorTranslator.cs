namespace SharpTune.Hub;

/// <summary>
/// Turns a Hub error response into one clear line. The Hub names the cause in the <c>X-Error-Code</c> header
/// (<c>GatedRepo</c>, <c>RepoNotFound</c>, <c>RevisionNotFound</c>, <c>EntryNotFound</c>) and adds
/// <c>X-Error-Message</c>; without them the status decides. A private or missing repo answers 401 to anonymous users.
/// </summary>
internal static class HubErrorTranslator
{
    public static string Message(int status, string? errorCode, string? errorMessage, HubRequestContext context, bool tokenSent, string endpoint, string method, string url)
    {
        string repo = context.Describe;
        string tokenHint = tokenSent
            ? "the token that was sent has no access to it"
            : "no token was sent: set HF_TOKEN (or log in with `hf auth login`)";
        return (errorCode, status) switch
        {
            ("GatedRepo", _) =>
                $"{repo} is gated: accept its licence at {endpoint}/{context.Type.UrlPrefix()}{context.RepoId} and set HF_TOKEN to a token of that account ({tokenHint})",
            (_, 401) when tokenSent && errorMessage == "Invalid credentials in Authorization header" =>
                $"the Hub refused the token (invalid or expired) for {repo}: set HF_TOKEN to a valid token",
            ("RevisionNotFound", _) => $"revision '{context.Revision}' not found in {repo}",
            ("EntryNotFound", _) => $"file '{context.FilePath}' not found in {repo} at revision '{context.Revision}'",
            ("RepoNotFound", _) or (null or "", 401) when !context.Write =>
                $"{repo} not found, or it is private ({tokenHint})",
            (_, 401) => tokenSent
                ? $"HTTP 401 from the Hub for {repo}: the token was refused (expired or invalid); set HF_TOKEN to a valid token"
                : $"HTTP 401 from the Hub for {repo}: {tokenHint}",
            (_, 403) => $"HTTP 403 from the Hub for {repo}: the token has no {(context.Write ? "write" : "read")} access to it{Suffix(errorMessage)}",
            (_, 404) when context.FilePath is not null => $"file '{context.FilePath}' not found in {repo} at revision '{context.Revision}'",
            (_, 404) => $"{repo} not found (HTTP 404 for {method} {url})",
            _ => $"{method} {url} failed: HTTP {status}{Suffix(errorMessage)}",
        };
    }

    private static string Suffix(string? errorMessage) =>
        string.IsNullOrWhiteSpace(errorMessage) ? "" : ": " + errorMessage.ReplaceLineEndings(" ").Trim();
}
