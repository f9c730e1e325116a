using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SharpTune.Hub;

namespace SharpTune.Tests.Hub;

/// <summary>One request the test Hub received.</summary>
internal sealed record RecordedRequest(string Method, string Host, string Path, string? Range, string? Authorization);

/// <summary>
/// A Hugging Face Hub for tests: Kestrel on 127.0.0.1 (random port) serving the endpoints SharpTune uses, from an
/// <see cref="InMemoryHubStore"/>. File downloads behave like the real Hub: regular files answer with their git
/// blob sha1 as ETag and <c>X-Repo-Commit</c>; LFS files answer 302 to a CDN on another host name ("localhost")
/// with <c>X-Linked-Etag</c> (sha256) and <c>X-Linked-Size</c>; bodies honour <c>Range</c>. Uploads go through
/// preupload, the LFS batch API (basic, or multipart above <see cref="MultipartThreshold"/>, with completion and
/// verify) and the NDJSON commit API. Access follows tokens: private repos, gated repos (401/403 with
/// <c>X-Error-Code: GatedRepo</c>), write tokens. <see cref="Faults"/> injects 429/500 and dropped connections.
/// </summary>
internal sealed class HubProtocolServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<int, byte[]>> _parts = new(StringComparer.Ordinal);

    private HubProtocolServer(WebApplication app, string endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public string Endpoint { get; }

    /// <summary>The same server under another host name, for the LFS CDN and storage (tokens must never go there).</summary>
    public string StorageHost => Endpoint.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);

    public InMemoryHubStore Store { get; } = new();

    public HubFaults Faults { get; } = new();

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Tokens the server accepts, and those that may write.</summary>
    public HashSet<string> ValidTokens { get; } = [];

    public HashSet<string> WriteTokens { get; } = [];

    public long MultipartThreshold { get; set; } = 64 * 1024;

    public long MultipartChunkSize { get; set; } = 16 * 1024;

    public int TreePageSize { get; set; } = 1000;

    /// <summary>LFS objects completed through multipart uploads, and those sent in one PUT.</summary>
    public ConcurrentBag<string> MultipartCompleted { get; } = [];

    public ConcurrentBag<string> BasicUploads { get; } = [];

    public ConcurrentQueue<IReadOnlyList<string>> CommitPayloads { get; } = new();

    public static async Task<HubProtocolServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        HubProtocolServer? server = null;
        app.Use(async (context, next) => await server!.FrontAsync(context, next));
        app.MapMethods("/{org}/{name}/resolve/{rev}/{**path}", ["GET", "HEAD"], context => server!.ResolveAsync(context, RepoType.Model));
        app.MapMethods("/datasets/{org}/{name}/resolve/{rev}/{**path}", ["GET", "HEAD"], context => server!.ResolveAsync(context, RepoType.Dataset));
        app.MapGet("/cdn/{sha}", context => server!.CdnAsync(context));
        app.MapGet("/api/{type}/{org}/{name}", context => server!.InfoAsync(context));
        app.MapGet("/api/{type}/{org}/{name}/revision/{rev}", context => server!.InfoAsync(context));
        app.MapGet("/api/{type}/{org}/{name}/tree/{rev}/{**path}", context => server!.TreeAsync(context));
        app.MapGet("/api/datasets/{org}/{name}/parquet/{config}/{split}", context => server!.ParquetAsync(context));
        app.MapPost("/api/repos/create", context => server!.CreateRepoAsync(context));
        app.MapPost("/api/{type}/{org}/{name}/preupload/{rev}", context => server!.PreuploadAsync(context));
        app.MapPost("/api/{type}/{org}/{name}/commit/{rev}", context => server!.CommitAsync(context));
        app.MapPost("/{org}/{name}.git/info/lfs/objects/batch", context => server!.LfsBatchAsync(context, RepoType.Model));
        app.MapPost("/datasets/{org}/{name}.git/info/lfs/objects/batch", context => server!.LfsBatchAsync(context, RepoType.Dataset));
        app.MapPut("/lfs-upload/{oid}", context => server!.LfsPutAsync(context));
        app.MapPut("/lfs-upload/{oid}/part/{number:int}", context => server!.LfsPartAsync(context));
        app.MapPost("/lfs-upload/{oid}/complete", context => server!.LfsCompleteAsync(context));
        app.MapPost("/lfs-verify/{oid}", context => server!.LfsVerifyAsync(context));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new HubProtocolServer(app, address.TrimEnd('/'));
        return server;
    }

    /// <summary>Client options for this server: no token unless given, a fresh cache, tiny retry delays.</summary>
    public HubOptions Options(string cacheDirectory, string? token = null, Action<string>? log = null) => new()
    {
        Endpoint = Endpoint,
        Token = token,
        CacheDirectory = cacheDirectory,
        MaxRetries = 4,
        RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        RetryMaxDelay = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(10),
        ReadTimeout = TimeSpan.FromSeconds(10),
        MaxParallelDownloads = 4,
        Log = log,
    };

    private async Task FrontAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        string path = request.Path.Value + request.QueryString.Value;
        Requests.Enqueue(new RecordedRequest(request.Method, request.Host.Host, path,
            request.Headers.Range.Count > 0 ? request.Headers.Range.ToString() : null,
            request.Headers.Authorization.Count > 0 ? request.Headers.Authorization.ToString() : null));
        if (Faults.TakeStatus(request.Method, path) is { } fault)
        {
            context.Response.StatusCode = fault.Status;
            if (fault.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = fault.RetryAfter;
            }

            if (Faults.EchoAuthorization)
            {
                context.Response.Headers["X-Error-Message"] = $"rejected request with {request.Headers.Authorization}";
            }

            await context.Response.WriteAsync("injected fault");
            return;
        }

        await next();
    }

    private static string Value(HttpContext context, string name) => Uri.UnescapeDataString(context.Request.RouteValues[name]?.ToString() ?? "");

    private static RepoType? TypeOf(string plural) => plural switch
    {
        "models" => RepoType.Model,
        "datasets" => RepoType.Dataset,
        _ => null,
    };

    private static string? Token(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : null;
    }

    private static async Task ErrorAsync(HttpContext context, int status, string? code, string message)
    {
        context.Response.StatusCode = status;
        if (code is not null)
        {
            context.Response.Headers["X-Error-Code"] = code;
        }

        context.Response.Headers["X-Error-Message"] = message;
        await context.Response.WriteAsJsonAsync(new { error = message });
    }

    /// <summary>Checks the token against the repo like the Hub does; writes the error and returns false when refused.</summary>
    private async Task<bool> AllowedAsync(HttpContext context, HubRepoState? repo, bool write)
    {
        string? token = Token(context);
        if (token is not null && !ValidTokens.Contains(token))
        {
            await ErrorAsync(context, 401, null, "Invalid credentials in Authorization header");
            return false;
        }

        if (repo is null || (repo.Private && token is null))
        {
            await ErrorAsync(context, token is null ? 401 : 404, "RepoNotFound", "Repository not found");
            return false;
        }

        if (write)
        {
            if (token is null || !WriteTokens.Contains(token))
            {
                await ErrorAsync(context, token is null ? 401 : 403, null, "You don't have the rights to write to this repo");
                return false;
            }
        }
        else if (repo.Gated && (token is null || !repo.AcceptedTokens.Contains(token)))
        {
            await ErrorAsync(context, token is null ? 401 : 403, "GatedRepo", $"Access to {repo.Id} is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return false;
        }

        return true;
    }

    private async Task ResolveAsync(HttpContext context, RepoType type)
    {
        var repo = Store.Find(type, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: false))
        {
            return;
        }

        string revision = Value(context, "rev");
        string path = context.Request.RouteValues["path"]?.ToString() ?? "";
        if (repo!.Resolve(revision) is not { } commit)
        {
            await ErrorAsync(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }

        if (!repo.Commits[commit].TryGetValue(path, out var file))
        {
            await ErrorAsync(context, 404, "EntryNotFound", $"{path} does not exist on \"{revision}\"");
            return;
        }

        var headers = context.Response.Headers;
        headers["X-Repo-Commit"] = commit;
        headers.ETag = $"\"{file.GitSha1}\"";
        if (file.IsLfs)
        {
            headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            headers["X-Linked-Size"] = file.Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
            headers.Location = $"{StorageHost}/cdn/{file.Sha256}";
            context.Response.StatusCode = 302;
            return;
        }

        await ServeAsync(context, file.Content!);
    }

    private async Task CdnAsync(HttpContext context)
    {
        string sha = Value(context, "sha");
        if (!Store.Lfs.TryGetValue(sha, out var content))
        {
            context.Response.StatusCode = 404;
            return;
        }

        await ServeAsync(context, Store.TamperedLfs.GetValueOrDefault(sha) ?? content);
    }

    /// <summary>Serves bytes with Range support; an injected drop writes part of the body and aborts the connection.</summary>
    private async Task ServeAsync(HttpContext context, byte[] content)
    {
        long start = 0;
        string range = context.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') && long.TryParse(range[6..^1], out long from))
        {
            if (from >= content.Length)
            {
                context.Response.StatusCode = 416;
                context.Response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }

            start = from;
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }

        context.Response.ContentLength = content.Length - start;
        context.Response.ContentType = "application/octet-stream";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        if (Faults.TakeInterruption(context.Request.Path.Value ?? "") is { } interruption && interruption.AfterBytes < content.Length - start)
        {
            await context.Response.Body.WriteAsync(content.AsMemory((int)start, (int)interruption.AfterBytes));
            await context.Response.Body.FlushAsync();
            if (interruption.Stall is { } stall)
            {
                try
                {
                    await Task.Delay(stall, context.RequestAborted);
                    await context.Response.Body.WriteAsync(content.AsMemory((int)(start + interruption.AfterBytes)), context.RequestAborted);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                }

                return;
            }

            context.Abort();
            return;
        }

        await context.Response.Body.WriteAsync(content.AsMemory((int)start));
    }

    private async Task InfoAsync(HttpContext context)
    {
        var type = TypeOf(Value(context, "type"));
        var repo = type is null ? null : Store.Find(type.Value, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: false))
        {
            return;
        }

        string revision = context.Request.RouteValues.ContainsKey("rev") ? Value(context, "rev") : "main";
        if (repo!.Resolve(revision) is not { } commit)
        {
            await ErrorAsync(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }

        await context.Response.WriteAsJsonAsync(new
        {
            id = repo.Id,
            sha = commit,
            @private = repo.Private,
            gated = repo.Gated ? (object)"manual" : false,
            siblings = repo.Commits[commit].Keys.Order(StringComparer.Ordinal).Select(p => new { rfilename = p }),
        });
    }

    private async Task TreeAsync(HttpContext context)
    {
        var type = TypeOf(Value(context, "type"));
        var repo = type is null ? null : Store.Find(type.Value, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: false))
        {
            return;
        }

        string revision = Value(context, "rev");
        if (repo!.Resolve(revision) is not { } commit)
        {
            await ErrorAsync(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }

        string folder = context.Request.RouteValues["path"]?.ToString()?.Trim('/') ?? "";
        string prefix = folder.Length == 0 ? "" : folder + "/";
        bool recursive = context.Request.Query["recursive"] == "true";
        var entries = new List<JsonObject>();
        var directories = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (path, file) in repo.Commits[commit].OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!path.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string rest = path[prefix.Length..];
            if (!recursive && rest.Contains('/'))
            {
                directories.Add(prefix + rest[..rest.IndexOf('/')]);
                continue;
            }

            var entry = new JsonObject { ["type"] = "file", ["oid"] = file.GitSha1, ["size"] = file.Size, ["path"] = path };
            if (file.IsLfs)
            {
                entry["lfs"] = new JsonObject { ["oid"] = file.Sha256, ["size"] = file.Size, ["pointerSize"] = InMemoryHubStore.LfsPointer(file.Sha256!, file.Size).Length };
            }

            entries.Add(entry);
        }

        entries.InsertRange(0, directories.Select(d => new JsonObject { ["type"] = "directory", ["oid"] = "0000000000000000000000000000000000000000", ["size"] = 0, ["path"] = d }));
        if (entries.Count == 0 && folder.Length > 0)
        {
            await ErrorAsync(context, 404, "EntryNotFound", $"{folder} does not exist on \"{revision}\"");
            return;
        }

        int cursor = int.TryParse(context.Request.Query["cursor"], out int c) ? c : 0;
        var page = entries.Skip(cursor).Take(TreePageSize).ToList();
        if (cursor + TreePageSize < entries.Count)
        {
            string next = $"{context.Request.Path}?recursive={(recursive ? "true" : "false")}&cursor={cursor + TreePageSize}";
            context.Response.Headers["Link"] = $"<{next}>; rel=\"next\"";
        }

        await context.Response.WriteAsync(new JsonArray([.. page]).ToJsonString());
    }

    private async Task ParquetAsync(HttpContext context)
    {
        string id = $"{Value(context, "org")}/{Value(context, "name")}";
        var repo = Store.Find(RepoType.Dataset, id);
        if (!await AllowedAsync(context, repo, write: false))
        {
            return;
        }

        string config = Value(context, "config");
        string split = Value(context, "split");
        if (repo!.Resolve(HubClient.ParquetRevision) is not { } commit)
        {
            await ErrorAsync(context, 404, "RevisionNotFound", "no parquet conversion");
            return;
        }

        var files = repo.Commits[commit].Keys.Where(p => p.StartsWith($"{config}/{split}/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        await context.Response.WriteAsJsonAsync(files.Select((_, i) => $"{Endpoint}/api/datasets/{id}/parquet/{config}/{split}/{i}.parquet"));
    }

    private async Task CreateRepoAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body);
        string name = body?["name"]?.GetValue<string>() ?? "";
        string? organization = body?["organization"]?.GetValue<string>();
        var type = body?["type"]?.GetValue<string>() == "dataset" ? RepoType.Dataset : RepoType.Model;
        string id = organization is null ? name : $"{organization}/{name}";
        string? token = Token(context);
        if (token is null || !WriteTokens.Contains(token))
        {
            await ErrorAsync(context, token is null ? 401 : 403, null, "You don't have the rights to create a repo here");
            return;
        }

        string url = $"{Endpoint}/{type.UrlPrefix()}{id}";
        if (Store.Find(type, id) is not null)
        {
            context.Response.StatusCode = 409;
            await context.Response.WriteAsJsonAsync(new { error = "You already created this repo", url });
            return;
        }

        var repo = Store.CreateRepo(type, id);
        repo.Private = body?["private"]?.GetValue<bool>() ?? false;
        await context.Response.WriteAsJsonAsync(new { url });
    }

    private async Task PreuploadAsync(HttpContext context)
    {
        var type = TypeOf(Value(context, "type"));
        var repo = type is null ? null : Store.Find(type.Value, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: true))
        {
            return;
        }

        var body = await JsonNode.ParseAsync(context.Request.Body);
        var files = new JsonArray();
        foreach (var file in body?["files"]?.AsArray() ?? [])
        {
            string path = file!["path"]!.GetValue<string>();
            long size = file["size"]!.GetValue<long>();
            _ = Convert.FromBase64String(file["sample"]!.GetValue<string>());
            files.Add(new JsonObject { ["path"] = path, ["uploadMode"] = Store.ShouldBeLfs(path, size) ? "lfs" : "regular", ["shouldIgnore"] = false });
        }

        await context.Response.WriteAsync(new JsonObject { ["files"] = files }.ToJsonString());
    }

    private async Task LfsBatchAsync(HttpContext context, RepoType type)
    {
        var repo = Store.Find(type, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: true))
        {
            return;
        }

        var body = await JsonNode.ParseAsync(context.Request.Body);
        if (body?["operation"]?.GetValue<string>() != "upload" || body["hash_algo"]?.GetValue<string>() != "sha256")
        {
            await ErrorAsync(context, 400, null, "bad batch request");
            return;
        }

        bool multipart = false;
        var objects = new JsonArray();
        foreach (var item in body["objects"]!.AsArray())
        {
            string oid = item!["oid"]!.GetValue<string>();
            long size = item["size"]!.GetValue<long>();
            var answer = new JsonObject { ["oid"] = oid, ["size"] = size };
            if (!Store.Lfs.ContainsKey(oid))
            {
                JsonObject upload;
                if (size > MultipartThreshold)
                {
                    multipart = true;
                    var header = new JsonObject { ["chunk_size"] = MultipartChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                    for (int part = 1; (part - 1) * MultipartChunkSize < size; part++)
                    {
                        header[part.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)] = $"{StorageHost}/lfs-upload/{oid}/part/{part}?X-Amz-Signature=secret{part}";
                    }

                    upload = new JsonObject { ["href"] = $"{Endpoint}/lfs-upload/{oid}/complete", ["header"] = header };
                }
                else
                {
                    upload = new JsonObject { ["href"] = $"{StorageHost}/lfs-upload/{oid}?X-Amz-Signature=secret", ["header"] = new JsonObject() };
                }

                answer["actions"] = new JsonObject
                {
                    ["upload"] = upload,
                    ["verify"] = new JsonObject { ["href"] = $"{Endpoint}/lfs-verify/{oid}", ["header"] = new JsonObject() },
                };
            }

            objects.Add(answer);
        }

        context.Response.ContentType = "application/vnd.git-lfs+json";
        await context.Response.WriteAsync(new JsonObject { ["transfer"] = multipart ? "multipart" : "basic", ["objects"] = objects }.ToJsonString());
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private async Task LfsPutAsync(HttpContext context)
    {
        string oid = Value(context, "oid");
        byte[] content = await ReadBodyAsync(context);
        if (Convert.ToHexStringLower(SHA256.HashData(content)) != oid)
        {
            await ErrorAsync(context, 400, null, "content does not match the oid");
            return;
        }

        Store.Lfs[oid] = content;
        BasicUploads.Add(oid);
    }

    private async Task LfsPartAsync(HttpContext context)
    {
        string oid = Value(context, "oid");
        int number = int.Parse(Value(context, "number"), System.Globalization.CultureInfo.InvariantCulture);
        byte[] content = await ReadBodyAsync(context);
        _parts.GetOrAdd(oid, _ => new ConcurrentDictionary<int, byte[]>())[number] = content;
        context.Response.Headers.ETag = $"\"{PartEtag(content)}\"";
    }

    private static string PartEtag(byte[] content) => Convert.ToHexStringLower(MD5.HashData(content));

    private async Task LfsCompleteAsync(HttpContext context)
    {
        string oid = Value(context, "oid");
        var body = await JsonNode.ParseAsync(context.Request.Body);
        if (!_parts.TryGetValue(oid, out var parts) || body?["oid"]?.GetValue<string>() != oid)
        {
            await ErrorAsync(context, 400, null, "no such multipart upload");
            return;
        }

        using var assembled = new MemoryStream();
        int expected = 1;
        foreach (var part in body["parts"]!.AsArray())
        {
            int number = part!["partNumber"]!.GetValue<int>();
            string etag = part["etag"]!.GetValue<string>().Trim('"');
            if (number != expected++ || !parts.TryGetValue(number, out var content) || PartEtag(content) != etag)
            {
                await ErrorAsync(context, 400, null, $"part {number} is missing or its etag is wrong");
                return;
            }

            assembled.Write(content);
        }

        byte[] all = assembled.ToArray();
        if (Convert.ToHexStringLower(SHA256.HashData(all)) != oid)
        {
            await ErrorAsync(context, 400, null, "assembled content does not match the oid");
            return;
        }

        Store.Lfs[oid] = all;
        MultipartCompleted.Add(oid);
    }

    private async Task LfsVerifyAsync(HttpContext context)
    {
        string oid = Value(context, "oid");
        var body = await JsonNode.ParseAsync(context.Request.Body);
        if (!Store.Lfs.TryGetValue(oid, out var content) || body?["size"]?.GetValue<long>() != content.Length)
        {
            await ErrorAsync(context, 404, null, "object not found");
        }
    }

    private async Task CommitAsync(HttpContext context)
    {
        var type = TypeOf(Value(context, "type"));
        var repo = type is null ? null : Store.Find(type.Value, $"{Value(context, "org")}/{Value(context, "name")}");
        if (!await AllowedAsync(context, repo, write: true))
        {
            return;
        }

        string revision = Value(context, "rev");
        if (!repo!.Refs.ContainsKey(revision))
        {
            await ErrorAsync(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }

        if (!context.Request.ContentType?.StartsWith("application/x-ndjson", StringComparison.Ordinal) ?? true)
        {
            await ErrorAsync(context, 400, null, "expected application/x-ndjson");
            return;
        }

        string text = Encoding.UTF8.GetString(await ReadBodyAsync(context));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        CommitPayloads.Enqueue(lines);
        string? summary = null;
        var changes = new Dictionary<string, StoredFile>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            var node = JsonNode.Parse(line)!;
            var value = node["value"]!;
            switch (node["key"]!.GetValue<string>())
            {
                case "header":
                    summary = value["summary"]!.GetValue<string>();
                    break;
                case "file":
                    byte[] content = Convert.FromBase64String(value["content"]!.GetValue<string>());
                    changes[value["path"]!.GetValue<string>()] = new StoredFile(content.Length, InMemoryHubStore.GitSha1(content), null, content);
                    break;
                case "lfsFile":
                    string oid = value["oid"]!.GetValue<string>();
                    long size = value["size"]!.GetValue<long>();
                    if (value["algo"]!.GetValue<string>() != "sha256" || !Store.Lfs.TryGetValue(oid, out var stored) || stored.Length != size)
                    {
                        await ErrorAsync(context, 422, null, $"LFS object {oid} is not in storage");
                        return;
                    }

                    changes[value["path"]!.GetValue<string>()] = new StoredFile(size, InMemoryHubStore.GitSha1(Encoding.ASCII.GetBytes(InMemoryHubStore.LfsPointer(oid, size))), oid, null);
                    break;
                default:
                    await ErrorAsync(context, 400, null, "unknown commit operation");
                    return;
            }
        }

        if (summary is null || changes.Count == 0)
        {
            await ErrorAsync(context, 400, null, "empty commit");
            return;
        }

        string commit = Store.CommitStored(repo, revision, summary, changes);
        await context.Response.WriteAsJsonAsync(new { success = true, commitOid = commit, commitUrl = $"{Endpoint}/{repo.Type.UrlPrefix()}{repo.Id}/commit/{commit}" });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
