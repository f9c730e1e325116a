using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Hub;

/// <summary>
/// Sends large files to the Hub's LFS storage through the git-lfs batch API
/// (<c>POST {endpoint}/{prefix}{id}.git/info/lfs/objects/batch</c>, operation <c>upload</c>, transfers
/// <c>basic</c> and <c>multipart</c>). Objects the server already has come back without actions and are skipped.
/// Basic: one PUT of the whole file. Multipart: the upload action's header holds <c>chunk_size</c> and one pre-signed
/// URL per part ("00001", "00002", ...); each part is PUT from disk, its ETag kept, and the parts are completed with a
/// POST of <c>{"oid","parts":[{"partNumber","etag"}]}</c> to the action's href. A <c>verify</c> action is then POSTed.
/// </summary>
internal sealed class LfsUploader(HubHttp http)
{
    private const string LfsMediaType = "application/vnd.git-lfs+json";
    private static readonly Dictionary<string, string> LfsHeaders = new() { ["Accept"] = LfsMediaType };

    public async Task UploadAsync(HubRequestContext context, string revision, IReadOnlyList<LocalUploadFile> files, Action<long> onBytes, CancellationToken cancellationToken)
    {
        foreach (var batch in files.Chunk(100))
        {
            var request = new JsonObject
            {
                ["operation"] = "upload",
                ["transfers"] = new JsonArray("basic", "multipart"),
                ["objects"] = new JsonArray([.. batch.Select(f => (JsonNode)new JsonObject { ["oid"] = f.Sha256, ["size"] = f.Size })]),
                ["hash_algo"] = "sha256",
                ["ref"] = new JsonObject { ["name"] = revision },
            };
            string url = $"{http.Endpoint}/{context.Type.UrlPrefix()}{context.RepoId}.git/info/lfs/objects/batch";
            string json = request.ToJsonString();
            using var response = await http.SendAsync(HttpMethod.Post, url, context with { Write = true }, () => Json(json, LfsMediaType), LfsHeaders,
                cancellationToken: cancellationToken).ConfigureAwait(false);
            var answer = JsonNode.Parse(await response.GetStringAsync().ConfigureAwait(false));
            var objects = answer?["objects"]?.AsArray() ?? throw new SharpTuneException($"{context.Describe}: the LFS batch answer has no 'objects'");
            foreach (var node in objects)
            {
                string oid = node?["oid"]?.GetValue<string>() ?? "";
                var file = batch.FirstOrDefault(f => f.Sha256 == oid) ?? throw new SharpTuneException($"{context.Describe}: the LFS batch answer names an unknown object {oid}");
                if (node?["error"] is { } error)
                {
                    throw new SharpTuneException($"{context.Describe}: LFS refused {file.RepoPath}: {error["code"]} {error["message"]}");
                }

                if (node?["actions"] is not JsonObject actions || actions["upload"] is not JsonObject upload)
                {
                    http.Log($"{file.RepoPath}: already in LFS storage");
                    onBytes(file.Size);
                    continue;
                }

                var header = upload["header"] as JsonObject;
                if (header?["chunk_size"] is { } chunkSize)
                {
                    await UploadMultipartAsync(context, file, upload, header, long.Parse(chunkSize.ToString()), onBytes, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await UploadBasicAsync(context, file, upload, header, onBytes, cancellationToken).ConfigureAwait(false);
                }

                if (actions["verify"] is JsonObject verify)
                {
                    string body = new JsonObject { ["oid"] = file.Sha256, ["size"] = file.Size }.ToJsonString();
                    using var verified = await http.SendAsync(HttpMethod.Post, Href(verify), context with { Write = true, FilePath = file.RepoPath },
                        () => Json(body, LfsMediaType), Headers(verify["header"] as JsonObject, LfsHeaders), cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task UploadBasicAsync(HubRequestContext context, LocalUploadFile file, JsonObject upload, JsonObject? header, Action<long> onBytes, CancellationToken cancellationToken)
    {
        long sent = 0;
        using var _ = await http.SendAsync(HttpMethod.Put, Href(upload), context with { Write = true, FilePath = file.RepoPath },
            () =>
            {
                onBytes(-sent);
                sent = 0;
                return new FileSliceContent(file.LocalPath, 0, file.Size, n => { sent += n; onBytes(n); });
            },
            Headers(header, null), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task UploadMultipartAsync(HubRequestContext context, LocalUploadFile file, JsonObject upload, JsonObject header, long chunkSize,
        Action<long> onBytes, CancellationToken cancellationToken)
    {
        var parts = header.Where(p => p.Key.Length > 0 && p.Key.All(char.IsAsciiDigit))
            .Select(p => (Number: int.Parse(p.Key), Url: p.Value?.GetValue<string>() ?? ""))
            .OrderBy(p => p.Number)
            .ToList();
        long expectedParts = chunkSize <= 0 ? -1 : (file.Size + chunkSize - 1) / chunkSize;
        if (parts.Count != expectedParts || parts.Select((p, i) => p.Number != i + 1).Any(bad => bad))
        {
            throw new SharpTuneException($"{context.Describe}: the LFS server offered {parts.Count} parts of {chunkSize} bytes for {file.RepoPath} ({file.Size} bytes)");
        }

        var etags = new List<JsonNode>();
        foreach (var (number, partUrl) in parts)
        {
            long offset = (number - 1) * chunkSize;
            long length = Math.Min(chunkSize, file.Size - offset);
            long sent = 0;
            using var response = await http.SendAsync(HttpMethod.Put, partUrl, context with { Write = true, FilePath = file.RepoPath },
                () =>
                {
                    onBytes(-sent);
                    sent = 0;
                    return new FileSliceContent(file.LocalPath, offset, length, n => { sent += n; onBytes(n); });
                },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            string etag = HubHttp.Header(response, "ETag") is { Length: > 0 } value
                ? value
                : throw new SharpTuneException($"{context.Describe}: the storage returned no ETag for part {number} of {file.RepoPath}");
            etags.Add(new JsonObject { ["partNumber"] = number, ["etag"] = etag });
        }

        string completion = new JsonObject { ["oid"] = file.Sha256, ["parts"] = new JsonArray([.. etags]) }.ToJsonString();
        using var completed = await http.SendAsync(HttpMethod.Post, Href(upload), context with { Write = true, FilePath = file.RepoPath },
            () => Json(completion, LfsMediaType), LfsHeaders, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private static string Href(JsonObject action) => action["href"]?.GetValue<string>() is { Length: > 0 } href && Uri.TryCreate(href, UriKind.Absolute, out _)
        ? href
        : throw new SharpTuneException("the LFS batch answer has an action without a valid href");

    /// <summary>An action's headers as strings (the multipart part URLs and chunk_size excluded).</summary>
    private static Dictionary<string, string> Headers(JsonObject? header, Dictionary<string, string>? extra)
    {
        var headers = new Dictionary<string, string>(extra ?? [], StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in header ?? [])
        {
            if (name != "chunk_size" && !name.All(char.IsAsciiDigit) && value is not null)
            {
                headers[name] = value.ToString();
            }
        }

        return headers;
    }

    internal static StringContent Json(string json, string mediaType) => new(json, Encoding.UTF8, mediaType);
}
