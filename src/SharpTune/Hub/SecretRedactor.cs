namespace SharpTune.Hub;

/// <summary>
/// Keeps the token out of messages: replaces it wherever it appears and drops query strings from URLs (pre-signed
/// upload and CDN URLs carry signatures there). Every message the Hub client shows or logs goes through it.
/// </summary>
public sealed class SecretRedactor(string? token)
{
    public string Redact(string text)
    {
        if (token is { Length: > 0 })
        {
            text = text.Replace(token, "***", StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>A URL fit for a message: no query string, no user info, and the token removed.</summary>
    public string Url(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            url = uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        }
        else if (url.IndexOf('?') is >= 0 and var q)
        {
            url = url[..q];
        }

        return Redact(url);
    }
}
