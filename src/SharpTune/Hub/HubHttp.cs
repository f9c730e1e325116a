using System.Net;
using System.Net.Http.Headers;
using Flurl.Http;
using Polly;
using Polly.Retry;

namespace SharpTune.Hub;

/// <summary>
/// The Hub client's transport: Flurl.Http for requests, Polly.Core for retries (exponential backoff with jitter on
/// 429, 5xx, timeouts and dropped connections, honouring <c>Retry-After</c>), redirects followed by hand so that the
/// token goes only to the endpoint's own host (never to the LFS CDN or a pre-signed storage URL), and error statuses
/// turned into one-line <see cref="SharpTuneException"/>s that never contain the token.
/// </summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HubOptions _options;
    private readonly FlurlClient _client;
    private readonly ResiliencePipeline _retry;
    private readonly Uri _endpoint;

    public HubHttp(HubOptions options)
    {
        _options = options;
        if (!Uri.TryCreate(options.Endpoint.TrimEnd('/'), UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
        {
            throw new SharpTuneException($"HF_ENDPOINT '{options.Endpoint}' is not an http(s) URL");
        }

        _endpoint = endpoint;
        Redactor = new SecretRedactor(options.Token);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(4, options.MaxParallelDownloads * 2),
        };
        _client = new FlurlClient(new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan });
        _client.Settings.Redirects.Enabled = false;
        _client.Settings.AllowedHttpStatusRange = "*";
        _client.Settings.Timeout = options.RequestTimeout;
        _client.Headers.Add("User-Agent", $"sharptune/{typeof(HubHttp).Assembly.GetName().Version?.ToString(3)}");

        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HubTransientException>().Handle<FlurlHttpException>(IsNetworkFailure)
                    .Handle<HttpRequestException>().Handle<IOException>().Handle<TimeoutException>(),
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is HubTransientException { RetryAfter: { } wait } ? wait : (TimeSpan?)null),
                OnRetry = args =>
                {
                    Log($"retry {args.AttemptNumber + 1}/{Math.Max(1, options.MaxRetries)} in {args.RetryDelay.TotalSeconds:0.###} s: {Describe(args.Outcome.Exception)}");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public SecretRedactor Redactor { get; }

    public string Endpoint => _endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/');

    public bool HasToken => _options.Token is { Length: > 0 };

    public void Log(string line) => _options.Log?.Invoke(Redactor.Redact(line));

    /// <summary>Runs <paramref name="operation"/> with retries; when they run out, the last failure becomes a one-line error.</summary>
    public async Task<T> RetryAsync<T>(string what, Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(async ct => await operation(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HubTransientException or FlurlHttpException or HttpRequestException or IOException or TimeoutException
                                   && !cancellationToken.IsCancellationRequested)
        {
            throw new HubUnreachableException(Redactor.Redact($"{what} failed after {Math.Max(1, _options.MaxRetries) + 1} attempts: {Describe(e)}"));
        }
    }

    /// <summary>
    /// Sends one request and returns the response whatever its status (the caller disposes it). Redirects are
    /// followed when asked; the token is attached only for the endpoint's host.
    /// </summary>
    public async Task<IFlurlResponse> SendRawAsync(HttpMethod method, string url, Func<HttpContent>? content = null,
        IReadOnlyDictionary<string, string>? headers = null, bool followRedirects = true,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, CancellationToken cancellationToken = default)
    {
        for (int redirects = 0; ; redirects++)
        {
            var request = _client.Request(url);
            foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            {
                request.WithHeader(name, value);
            }

            if (IsEndpointHost(url) && _options.Token is { Length: > 0 } token)
            {
                request.WithHeader("Authorization", "Bearer " + token);
            }

            IFlurlResponse response;
            try
            {
                response = await request.SendAsync(method, content?.Invoke(), completion, cancellationToken).ConfigureAwait(false);
            }
            catch (FlurlHttpTimeoutException)
            {
                throw new HubTransientException($"{method} {Redactor.Url(url)} timed out after {_options.RequestTimeout.TotalSeconds:0.#} s");
            }
            catch (FlurlHttpException e) when (e.Call.Response is null && !cancellationToken.IsCancellationRequested)
            {
                throw new HubTransientException($"{method} {Redactor.Url(url)}: {Redactor.Redact(Innermost(e).Message)}");
            }

            bool isRedirect = response.StatusCode is 301 or 302 or 303 or 307 or 308;
            if (!followRedirects || !isRedirect || Header(response, "Location") is not { } location)
            {
                return response;
            }

            response.Dispose();
            if (redirects >= MaxRedirects)
            {
                throw new SharpTuneException($"{method} {Redactor.Url(url)}: more than {MaxRedirects} redirects");
            }

            url = new Uri(new Uri(url), location).AbsoluteUri;
            if (response.StatusCode == 303)
            {
                method = HttpMethod.Get;
                content = null;
            }
        }
    }

    /// <summary>
    /// Sends a request with retries and returns a successful (2xx/3xx) response; 429 and 5xx are retried, other
    /// statuses become a one-line <see cref="SharpTuneException"/> about <paramref name="context"/>.
    /// </summary>
    public Task<IFlurlResponse> SendAsync(HttpMethod method, string url, HubRequestContext context, Func<HttpContent>? content = null,
        IReadOnlyDictionary<string, string>? headers = null, bool followRedirects = true,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, CancellationToken cancellationToken = default) =>
        RetryAsync($"{method} {Redactor.Url(url)}", async ct =>
        {
            var response = await SendRawAsync(method, url, content, headers, followRedirects, completion, ct).ConfigureAwait(false);
            EnsureSuccess(response, method, url, context);
            return response;
        }, cancellationToken);

    public async Task<string> GetStringAsync(string url, HubRequestContext context, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, url, context, cancellationToken: cancellationToken).ConfigureAwait(false);
        return await response.GetStringAsync().ConfigureAwait(false);
    }

    /// <summary>Throws for an error status: transient (retried) for 429/5xx, a user error for the rest. Disposes the response then.</summary>
    public void EnsureSuccess(IFlurlResponse response, HttpMethod method, string url, HubRequestContext context)
    {
        int status = response.StatusCode;
        if (status < 400)
        {
            return;
        }

        string? errorMessage = Header(response, "X-Error-Message");
        string? errorCode = Header(response, "X-Error-Code");
        TimeSpan? retryAfter = RetryAfterHeader.TryParse(Header(response, "Retry-After"), DateTimeOffset.UtcNow, out var wait) ? wait : null;
        response.Dispose();
        if (status == 429 || status >= 500)
        {
            if (retryAfter > _options.MaxRetryAfter)
            {
                throw new SharpTuneException(Redactor.Redact(
                    $"{method} {Redactor.Url(url)}: the Hub asked to wait {retryAfter.Value.TotalSeconds:0} s (HTTP {status}), longer than the {_options.MaxRetryAfter.TotalSeconds:0} s allowed; try again later"));
            }

            throw new HubTransientException(Redactor.Redact($"{method} {Redactor.Url(url)}: HTTP {status}{(errorMessage is null ? "" : " " + errorMessage)}"), retryAfter);
        }

        throw new SharpTuneException(Redactor.Redact(
            HubErrorTranslator.Message(status, errorCode, errorMessage, context, HasToken && IsEndpointHost(url), Endpoint, method.Method, Redactor.Url(url))));
    }

    public static string? Header(IFlurlResponse response, string name)
    {
        var message = response.ResponseMessage;
        if (message.Headers.TryGetValues(name, out var values) || message.Content.Headers.TryGetValues(name, out values))
        {
            return values.FirstOrDefault();
        }

        return null;
    }

    /// <summary>The total length a response announces: Content-Length, or the size after the slash in Content-Range.</summary>
    public static long? ContentLength(IFlurlResponse response) => response.ResponseMessage.Content.Headers.ContentLength;

    public static ContentRangeHeaderValue? ContentRange(IFlurlResponse response) => response.ResponseMessage.Content.Headers.ContentRange;

    private bool IsEndpointHost(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, _endpoint.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Host, _endpoint.Host, StringComparison.OrdinalIgnoreCase)
        && uri.Port == _endpoint.Port;

    private static bool IsNetworkFailure(FlurlHttpException e) => e.Call?.Response is null;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }

    private string Describe(Exception? e) => e switch
    {
        null => "unknown failure",
        HubTransientException or SharpTuneException => Redactor.Redact(e.Message),
        FlurlHttpException f => Redactor.Redact(Innermost(f).Message),
        _ => Redactor.Redact(e.GetType().Name + ": " + Innermost(e).Message),
    };

    public void Dispose() => _client.Dispose();
}
