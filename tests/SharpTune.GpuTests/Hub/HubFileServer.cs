using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SharpTune.GpuTests.Hub;

/// <summary>
/// The download half of the Hub protocol on 127.0.0.1, for the cache interop test on hosts without ASP.NET Core:
/// <c>/api/models/{id}[/revision/{rev}]</c> (sha, siblings), <c>/api/models/{id}/tree/{rev}</c>, and
/// <c>/{id}/resolve/{rev}/{path}</c> (regular files inline with their git blob sha1 as ETag; LFS files as a 302 to
/// <c>/cdn/{sha256}</c> with <c>X-Linked-Etag</c>/<c>X-Linked-Size</c>), all with <c>X-Repo-Commit</c> and Range.
/// One repo, one commit.
/// </summary>
internal sealed class HubFileServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, byte[]> _files;
    private readonly Task _loop;

    public HubFileServer(string repoId, Dictionary<string, byte[]> files, long lfsThreshold = 1024)
    {
        RepoId = repoId;
        _files = files;
        LfsThreshold = lfsThreshold;
        Commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Join("\n", files.Keys.Order(StringComparer.Ordinal)))));
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Prefixes.Add($"http://localhost:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string RepoId { get; }

    public string Commit { get; }

    public string Endpoint { get; }

    public long LfsThreshold { get; }

    public bool IsLfs(string path) => _files[path].Length > LfsThreshold;

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitSha1(byte[] content) => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Handle(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
            }
            finally
            {
                context.Response.Close();
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var response = context.Response;
        string path = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath);
        string api = $"/api/models/{RepoId}";
        response.Headers["X-Repo-Commit"] = Commit;
        if (path == api || path.StartsWith(api + "/revision/", StringComparison.Ordinal))
        {
            Json(response, JsonSerializer.Serialize(new { id = RepoId, sha = Commit, @private = false, siblings = _files.Keys.Select(k => new { rfilename = k }) }));
        }
        else if (path.StartsWith(api + "/tree/", StringComparison.Ordinal))
        {
            var entries = _files.Select(f => IsLfs(f.Key)
                ? (object)new { type = "file", oid = GitSha1(Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{Sha256(f.Value)}\nsize {f.Value.Length}\n")), size = f.Value.Length, path = f.Key, lfs = new { oid = Sha256(f.Value), size = f.Value.Length, pointerSize = 134 } }
                : new { type = "file", oid = GitSha1(f.Value), size = f.Value.Length, path = f.Key });
            Json(response, JsonSerializer.Serialize(entries));
        }
        else if (path.StartsWith($"/{RepoId}/resolve/", StringComparison.Ordinal))
        {
            string rest = path[$"/{RepoId}/resolve/".Length..];
            string file = rest[(rest.IndexOf('/') + 1)..];
            if (!_files.TryGetValue(file, out var content))
            {
                response.StatusCode = 404;
                response.Headers["X-Error-Code"] = "EntryNotFound";
                return;
            }

            response.Headers["ETag"] = $"\"{GitSha1(content)}\"";
            if (IsLfs(file))
            {
                response.Headers["X-Linked-Etag"] = $"\"{Sha256(content)}\"";
                response.Headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                response.Headers["Location"] = $"{Endpoint.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)}/cdn/{Sha256(content)}";
                response.StatusCode = 302;
                return;
            }

            Serve(context, content);
        }
        else if (path.StartsWith("/cdn/", StringComparison.Ordinal) && _files.Values.FirstOrDefault(v => Sha256(v) == path[5..]) is { } blob)
        {
            Serve(context, blob);
        }
        else
        {
            response.StatusCode = 404;
        }
    }

    private static void Json(HttpListenerResponse response, string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
    }

    private static void Serve(HttpListenerContext context, byte[] content)
    {
        var response = context.Response;
        long start = 0;
        string? range = context.Request.Headers["Range"];
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') && long.TryParse(range[6..^1], out long from) && from < content.Length)
        {
            start = from;
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength64 = content.Length - start;
        if (context.Request.HttpMethod != "HEAD")
        {
            response.OutputStream.Write(content, (int)start, (int)(content.Length - start));
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
