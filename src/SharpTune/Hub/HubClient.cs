using System.Text.Json;
using SharpTune.Progress;

namespace SharpTune.Hub;

/// <summary>
/// A client for the Hugging Face Hub: downloads of model and dataset repos into a cache shared with Python's
/// <c>huggingface_hub</c> (resumable, verified, parallel, with progress), repo listings, dataset parquet conversions,
/// repo creation and folder uploads through the commit API with LFS. Settings come from <see cref="HubOptions"/>
/// (<see cref="HubOptions.FromEnvironment"/> reads <c>HF_TOKEN</c>, <c>HF_ENDPOINT</c>, <c>HF_HUB_CACHE</c>, ...).
/// </summary>
public sealed class HubClient : IDisposable
{
    /// <summary>The revision a dataset's parquet conversion lives on.</summary>
    public const string ParquetRevision = "refs/convert/parquet";

    private readonly HubHttp _http;
    private readonly BlobDownloader _blobs;

    public HubClient(HubOptions? options = null)
    {
        Options = options ?? HubOptions.FromEnvironment();
        _http = new HubHttp(Options);
        _blobs = new BlobDownloader(_http, Options);
    }

    public HubOptions Options { get; }

    private string Endpoint => _http.Endpoint;

    /// <summary>The cache folder of one repo (<c>{cache}/models--org--name</c>).</summary>
    public HubRepoCache Cache(string repoId, RepoType type = RepoType.Model) => new(Options.CacheDirectory, repoId, type);

    /// <summary>A repo's commit and file names at a revision (<c>/api/{type}s/{id}/revision/{revision}</c>).</summary>
    public async Task<HubRepoInfo> GetRepoInfoAsync(string repoId, RepoType type = RepoType.Model, string? revision = null, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        EnsureOnline(repoId);
        string url = $"{Endpoint}/api/{type.Plural()}/{repoId}" + (revision is null ? "" : "/revision/" + EscapeRevision(revision));
        string json = await _http.GetStringAsync(url, new HubRequestContext(repoId, type, revision ?? "main"), cancellationToken).ConfigureAwait(false);
        return HubRepoInfo.Parse(json, repoId);
    }

    /// <summary>
    /// The files of a repo at a revision with their sizes and hashes (<c>/api/{type}s/{id}/tree/{revision}/{path}</c>,
    /// following the listing's pages). <paramref name="pathInRepo"/> limits it to a folder.
    /// </summary>
    public async Task<IReadOnlyList<HubFileEntry>> ListFilesAsync(string repoId, RepoType type = RepoType.Model, string revision = "main",
        string? pathInRepo = null, bool recursive = true, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        HubRepoId.ValidateRevision(revision);
        EnsureOnline(repoId);
        string folder = string.IsNullOrEmpty(pathInRepo) ? "" : "/" + RepoFilePath.EscapeForUrl(RepoFilePath.Check(pathInRepo.Trim('/'), repoId));
        string? url = $"{Endpoint}/api/{type.Plural()}/{repoId}/tree/{EscapeRevision(revision)}{folder}" + (recursive ? "?recursive=true" : "");
        var context = new HubRequestContext(repoId, type, revision, pathInRepo);
        var files = new List<HubFileEntry>();
        for (int page = 0; url is not null && page < 10_000; page++)
        {
            using var response = await _http.SendAsync(HttpMethod.Get, url, context, cancellationToken: cancellationToken).ConfigureAwait(false);
            files.AddRange(HubFileEntry.ParseTree(await response.GetStringAsync().ConfigureAwait(false), repoId));
            url = NextPage(HubHttp.Header(response, "Link"), url);
        }

        return files;
    }

    /// <summary>The files at a revision, or none when the repo or revision has no commit yet (404).</summary>
    internal async Task<IReadOnlyList<HubFileEntry>> ListFilesOrEmptyAsync(string repoId, RepoType type, string revision, CancellationToken cancellationToken)
    {
        string? url = $"{Endpoint}/api/{type.Plural()}/{repoId}/tree/{EscapeRevision(revision)}?recursive=true";
        var context = new HubRequestContext(repoId, type, revision, Write: true);
        var files = new List<HubFileEntry>();
        for (int page = 0; url is not null && page < 10_000; page++)
        {
            string pageUrl = url;
            var (json, link) = await _http.RetryAsync($"GET {_http.Redactor.Url(pageUrl)}", async ct =>
            {
                using var response = await _http.SendRawAsync(HttpMethod.Get, pageUrl, cancellationToken: ct).ConfigureAwait(false);
                if (response.StatusCode == 404 && HubHttp.Header(response, "X-Error-Code") is null or "RevisionNotFound" or "EntryNotFound")
                {
                    return ((string?)null, (string?)null);
                }

                _http.EnsureSuccess(response, HttpMethod.Get, pageUrl, context);
                return (await response.GetStringAsync().ConfigureAwait(false), HubHttp.Header(response, "Link"));
            }, cancellationToken).ConfigureAwait(false);
            if (json is null)
            {
                return [];
            }

            files.AddRange(HubFileEntry.ParseTree(json, repoId));
            url = NextPage(link, pageUrl);
        }

        return files;
    }

    /// <summary>
    /// Creates a repo (<c>POST /api/repos/create</c>) and returns its URL. With <paramref name="existOk"/> an existing
    /// repo (409) is fine; otherwise it is an error.
    /// </summary>
    public async Task<string> CreateRepoAsync(string repoId, RepoType type = RepoType.Model, bool isPrivate = false, bool existOk = true,
        CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        EnsureOnline(repoId);
        var body = new System.Text.Json.Nodes.JsonObject();
        int slash = repoId.IndexOf('/');
        body["name"] = slash < 0 ? repoId : repoId[(slash + 1)..];
        if (slash >= 0)
        {
            body["organization"] = repoId[..slash];
        }

        body["private"] = isPrivate;
        if (type != RepoType.Model)
        {
            body["type"] = type.Name();
        }

        string json = body.ToJsonString();
        string url = $"{Endpoint}/api/repos/create";
        var context = new HubRequestContext(repoId, type, Write: true);
        string repoUrl = $"{Endpoint}/{type.UrlPrefix()}{repoId}";
        return await _http.RetryAsync($"POST {url}", async ct =>
        {
            using var response = await _http.SendRawAsync(HttpMethod.Post, url, () => LfsUploader.Json(json, "application/json"), cancellationToken: ct).ConfigureAwait(false);
            if (response.StatusCode == 409)
            {
                return existOk ? repoUrl : throw new SharpTuneException($"{context.Describe} already exists");
            }

            _http.EnsureSuccess(response, HttpMethod.Post, url, context);
            string answer = await response.GetStringAsync().ConfigureAwait(false);
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(answer) ? "{}" : answer);
            return document.RootElement.TryGetProperty("url", out var u) && u.GetString() is { Length: > 0 } created ? created : repoUrl;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Publishes <paramref name="folder"/> to the repo as one commit on <paramref name="revision"/>: small files inline,
    /// large ones through LFS (multipart when the server asks for it), streamed from disk. Files whose content the
    /// remote already has are skipped; when nothing changed no commit is made.
    /// </summary>
    public Task<HubUploadResult> UploadFolderAsync(string repoId, RepoType type, string folder, string commitMessage, string revision = "main",
        IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        HubRepoId.ValidateRevision(revision);
        EnsureOnline(repoId);
        return new HubUploader(_http, this).UploadFolderAsync(repoId, type, folder, commitMessage, revision, progress, cancellationToken);
    }

    /// <summary>
    /// Publishes the given files (repo path, local path) as one commit on <paramref name="revision"/>, like
    /// <see cref="UploadFolderAsync"/>: unchanged files skipped, large ones through LFS, streamed from disk.
    /// </summary>
    public Task<HubUploadResult> UploadFilesAsync(string repoId, RepoType type, IReadOnlyList<(string RepoPath, string LocalPath)> files, string commitMessage,
        string revision = "main", IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        HubRepoId.ValidateRevision(revision);
        EnsureOnline(repoId);
        return new HubUploader(_http, this).UploadFilesAsync(repoId, type, files, commitMessage, revision, progress, cancellationToken);
    }

    /// <summary>The URLs of a dataset split's parquet files (<c>/api/datasets/{id}/parquet/{config}/{split}</c>).</summary>
    public async Task<IReadOnlyList<string>> ListParquetFilesAsync(string datasetId, string config, string split, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(datasetId);
        EnsureOnline(datasetId);
        string url = $"{Endpoint}/api/datasets/{datasetId}/parquet/{Uri.EscapeDataString(config)}/{Uri.EscapeDataString(split)}";
        string json = await _http.GetStringAsync(url, new HubRequestContext(datasetId, RepoType.Dataset, ParquetRevision, $"{config}/{split}"), cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new SharpTuneException($"dataset {datasetId}: the parquet listing for {config}/{split} is not a JSON array");
        }

        return [.. document.RootElement.EnumerateArray().Select(e => e.GetString() ?? throw new SharpTuneException($"dataset {datasetId}: a parquet URL is not a string"))];
    }

    /// <summary>
    /// Downloads a dataset split's parquet conversion (the files under <c>{config}/{split}/</c> on the
    /// <c>refs/convert/parquet</c> revision) into the cache and returns their local paths, in order.
    /// </summary>
    public async Task<IReadOnlyList<string>> DownloadParquetAsync(string datasetId, string config, string split,
        IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string folder = $"{config}/{split}/";
        string snapshot = await DownloadSnapshotAsync(datasetId, RepoType.Dataset, ParquetRevision, [folder + "*.parquet"], progress, cancellationToken).ConfigureAwait(false);
        string directory = RepoFilePath.Under(snapshot, folder.TrimEnd('/'), datasetId);
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*.parquet").Order(StringComparer.Ordinal).ToList() : [];
        if (files.Count == 0)
        {
            throw new SharpTuneException($"dataset {datasetId}: no parquet files for config '{config}' split '{split}' on {ParquetRevision}");
        }

        return files;
    }

    /// <summary>
    /// Downloads one file at a revision into the cache (resuming, verified) and returns its path in the snapshot
    /// folder. With a commit hash already cached, or offline, no request is made.
    /// </summary>
    public async Task<string> DownloadFileAsync(string repoId, string path, RepoType type = RepoType.Model, string revision = "main",
        IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var cache = Cache(repoId, type);
        HubRepoId.ValidateRevision(revision);
        RepoFilePath.Check(path, repoId);
        if (cache.TryResolveCommit(revision) is { } cachedCommit && (Options.Offline || HubRepoId.IsCommitHash(revision))
            && cache.HasSnapshotFile(cachedCommit, path))
        {
            return cache.SnapshotPath(cachedCommit, path);
        }

        if (Options.Offline)
        {
            throw OfflineMiss(cache, revision, $"file '{path}'");
        }

        FileMetadata metadata;
        try
        {
            metadata = await GetFileMetadataAsync(cache, path, revision, cancellationToken).ConfigureAwait(false);
        }
        catch (HubUnreachableException) when (cache.TryResolveCommit(revision) is { } commit && cache.HasSnapshotFile(commit, path))
        {
            _http.Log($"the Hub is unreachable; using the cached {repoId}/{path}");
            return cache.SnapshotPath(commit, path);
        }

        cache.WriteRef(revision, metadata.Commit);
        if (cache.HasSnapshotFile(metadata.Commit, path))
        {
            return cache.SnapshotPath(metadata.Commit, path);
        }

        var entry = new HubFileEntry(path, metadata.Size ?? -1, metadata.IsLfs ? null : metadata.Etag, metadata.IsLfs ? metadata.Etag : null);
        var tracker = new DownloadProgress(progress, $"download {path}", metadata.Size);
        string local = await FetchAsync(cache, metadata.Commit, entry, tracker, cancellationToken).ConfigureAwait(false);
        tracker.Finish();
        return local;
    }

    /// <summary>
    /// Downloads a repo at a revision (all files, or those matching <paramref name="allowPatterns"/>) into the cache
    /// and returns the snapshot folder (<c>{cache}/models--org--name/snapshots/{commit}</c>). A selected sharded
    /// checkpoint index brings every shard it names. Offline (or with the Hub unreachable) a cached snapshot is used.
    /// </summary>
    public async Task<string> DownloadSnapshotAsync(string repoId, RepoType type = RepoType.Model, string revision = "main",
        IEnumerable<string>? allowPatterns = null, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var cache = Cache(repoId, type);
        HubRepoId.ValidateRevision(revision);
        var patterns = (allowPatterns ?? []).Select(p => new PathGlob(p)).ToList();
        if (Options.Offline)
        {
            return CachedSnapshot(cache, revision, patterns) ?? throw OfflineMiss(cache, revision, "snapshot");
        }

        string commit;
        IReadOnlyList<HubFileEntry> files;
        try
        {
            commit = (await GetRepoInfoAsync(repoId, type, revision, cancellationToken).ConfigureAwait(false)).Sha;
            files = await ListFilesAsync(repoId, type, commit, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HubUnreachableException) when (CachedSnapshot(cache, revision, patterns) is { } cached)
        {
            _http.Log($"the Hub is unreachable; using the cached snapshot of {repoId} at '{revision}'");
            return cached;
        }

        cache.WriteRef(revision, commit);
        var byPath = files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var selected = files.Where(f => PathGlob.MatchesAny(patterns, f.Path)).ToList();
        var tracker = new DownloadProgress(progress, $"download {repoId}", selected.Where(f => !cache.HasSnapshotFile(commit, f.Path)).Sum(f => Math.Max(0, f.Size)));

        // Indexes of sharded checkpoints first: each names shards that must come too, selected or not.
        var indexes = selected.Where(f => ShardedCheckpointIndex.IsIndexFile(f.Path)).ToList();
        await ForEachParallelAsync(indexes, f => FetchAsync(cache, commit, f, tracker, cancellationToken), cancellationToken).ConfigureAwait(false);
        var chosen = new HashSet<string>(selected.Select(f => f.Path), StringComparer.Ordinal);
        foreach (var index in indexes)
        {
            string json = await File.ReadAllTextAsync(cache.SnapshotPath(commit, index.Path), cancellationToken).ConfigureAwait(false);
            foreach (string shard in ShardedCheckpointIndex.ShardPaths(json, index.Path, repoId))
            {
                if (!byPath.TryGetValue(shard, out var shardEntry))
                {
                    throw new SharpTuneException($"{type.Name()} {repoId}: {index.Path} names the shard '{shard}', which the repo does not have at {commit}");
                }

                if (chosen.Add(shard))
                {
                    selected.Add(shardEntry);
                    tracker.AddTotal(cache.HasSnapshotFile(commit, shard) ? 0 : Math.Max(0, shardEntry.Size));
                }
            }
        }

        var rest = selected.Where(f => !ShardedCheckpointIndex.IsIndexFile(f.Path)).ToList();
        await ForEachParallelAsync(rest, f => FetchAsync(cache, commit, f, tracker, cancellationToken), cancellationToken).ConfigureAwait(false);
        tracker.Finish();
        string snapshot = cache.SnapshotDirectory(commit);
        Directory.CreateDirectory(snapshot);
        return snapshot;
    }

    /// <summary>
    /// Copies a snapshot's files (following the cache's symlinks) into <paramref name="localDirectory"/>, each written
    /// to a temporary name and renamed. Returns the number of files copied.
    /// </summary>
    public static int CopySnapshot(string snapshotDirectory, string localDirectory)
    {
        Directory.CreateDirectory(localDirectory);
        int copied = 0;
        foreach (string source in Directory.EnumerateFiles(snapshotDirectory, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(snapshotDirectory, source).Replace('\\', '/');
            string target = RepoFilePath.Under(localDirectory, relative, localDirectory);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            string temp = target + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            File.Copy(source, temp, overwrite: true);
            File.Move(temp, target, overwrite: true);
            copied++;
        }

        return copied;
    }

    private async Task<string> FetchAsync(HubRepoCache cache, string commit, HubFileEntry file, DownloadProgress tracker, CancellationToken cancellationToken)
    {
        if (cache.HasSnapshotFile(commit, file.Path))
        {
            return cache.SnapshotPath(commit, file.Path);
        }

        string etag = file.Etag ?? throw new SharpTuneException($"{cache.RepoId}: the listing gives no oid for '{file.Path}'");
        string url = ResolveUrl(cache.RepoId, cache.Type, commit, file.Path);
        var request = new BlobRequest(url, commit, file.Path, etag, file.Size >= 0 ? file.Size : null, file.LfsSha256,
            file.IsLfs || !HubRepoId.IsCommitHash(file.GitOid) ? null : file.GitOid);
        await _blobs.EnsureBlobAsync(cache, request, tracker.Add, cancellationToken).ConfigureAwait(false);
        return cache.LinkSnapshot(commit, file.Path, etag);
    }

    private sealed record FileMetadata(string Commit, string Etag, long? Size, bool IsLfs);

    /// <summary>
    /// HEAD on the resolve URL without following the CDN redirect: <c>X-Repo-Commit</c> is the commit,
    /// <c>X-Linked-Etag</c> (LFS: the sha256) or <c>ETag</c> the etag, <c>X-Linked-Size</c> or <c>Content-Length</c>
    /// the size. Redirects that carry no commit (a renamed repo) are followed.
    /// </summary>
    private async Task<FileMetadata> GetFileMetadataAsync(HubRepoCache cache, string path, string revision, CancellationToken cancellationToken)
    {
        string url = ResolveUrl(cache.RepoId, cache.Type, revision, path);
        var context = new HubRequestContext(cache.RepoId, cache.Type, revision, path);
        for (int hop = 0; hop < 5; hop++)
        {
            using var response = await _http.SendAsync(HttpMethod.Head, url, context, headers: new Dictionary<string, string> { ["Accept-Encoding"] = "identity" },
                followRedirects: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            string? commit = HubHttp.Header(response, "X-Repo-Commit");
            if (commit is null && response.StatusCode is >= 300 and < 400 && HubHttp.Header(response, "Location") is { } location)
            {
                url = new Uri(new Uri(url), location).AbsoluteUri;
                continue;
            }

            string? linkedEtag = HubHttp.Header(response, "X-Linked-Etag");
            string? etag = NormalizeEtag(linkedEtag ?? HubHttp.Header(response, "ETag"));
            long? size = long.TryParse(HubHttp.Header(response, "X-Linked-Size"), out long linkedSize) ? linkedSize : HubHttp.ContentLength(response);
            if (!HubRepoId.IsCommitHash(commit) || string.IsNullOrEmpty(etag))
            {
                throw new SharpTuneException($"{cache.Type.Name()} {cache.RepoId}: the Hub sent no valid X-Repo-Commit/ETag for '{path}' (is HF_ENDPOINT a Hub?)");
            }

            return new FileMetadata(commit!, etag, size, linkedEtag is not null && etag.Length == 64);
        }

        throw new SharpTuneException($"{cache.Type.Name()} {cache.RepoId}: too many redirects for '{path}'");
    }

    private static string? NormalizeEtag(string? etag)
    {
        if (etag is null)
        {
            return null;
        }

        if (etag.StartsWith("W/", StringComparison.Ordinal))
        {
            etag = etag[2..];
        }

        return etag.Trim('"');
    }

    private string? CachedSnapshot(HubRepoCache cache, string revision, IReadOnlyList<PathGlob> patterns)
    {
        if (cache.TryResolveCommit(revision) is not { } commit || !Directory.Exists(cache.SnapshotDirectory(commit)))
        {
            return null;
        }

        string snapshot = cache.SnapshotDirectory(commit);
        var files = Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/'))
            .Where(f => PathGlob.MatchesAny(patterns, f) && HubRepoCache.ResolvesToFile(Path.Combine(snapshot, f)))
            .ToList();
        if (files.Count == 0)
        {
            return null;
        }

        foreach (string index in files.Where(ShardedCheckpointIndex.IsIndexFile))
        {
            foreach (string shard in ShardedCheckpointIndex.ShardPaths(File.ReadAllText(Path.Combine(snapshot, index)), index, cache.RepoId))
            {
                if (!cache.HasSnapshotFile(commit, shard))
                {
                    return null;
                }
            }
        }

        return snapshot;
    }

    private SharpTuneException OfflineMiss(HubRepoCache cache, string revision, string what) => Options.Offline
        ? new SharpTuneException($"HF_HUB_OFFLINE is set and the {what} of {cache.Type.Name()} {cache.RepoId} at '{revision}' is not in the cache ({cache.Root}); run once online or unset HF_HUB_OFFLINE")
        : new SharpTuneException($"the {what} of {cache.Type.Name()} {cache.RepoId} at '{revision}' is not in the cache ({cache.Root})");

    private void EnsureOnline(string repoId)
    {
        if (Options.Offline)
        {
            throw new SharpTuneException($"HF_HUB_OFFLINE is set: cannot ask the Hub about {repoId}; unset HF_HUB_OFFLINE to go online");
        }
    }

    internal string ResolveUrl(string repoId, RepoType type, string revision, string path) =>
        $"{Endpoint}/{type.UrlPrefix()}{repoId}/resolve/{EscapeRevision(revision)}/{RepoFilePath.EscapeForUrl(path)}";

    internal static string EscapeRevision(string revision) => Uri.EscapeDataString(revision);

    /// <summary>The <c>rel="next"</c> URL of a Link header, made absolute against the current page.</summary>
    internal static string? NextPage(string? link, string current)
    {
        if (string.IsNullOrEmpty(link))
        {
            return null;
        }

        foreach (string part in link.Split(','))
        {
            int open = part.IndexOf('<');
            int close = part.IndexOf('>');
            if (open >= 0 && close > open && part[close..].Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return new Uri(new Uri(current), part[(open + 1)..close]).AbsoluteUri;
            }
        }

        return null;
    }

    private async Task ForEachParallelAsync<T>(IReadOnlyList<T> items, Func<T, Task> action, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Options.MaxParallelDownloads), CancellationToken = cancellationToken },
            async (item, _) => await action(item).ConfigureAwait(false)).ConfigureAwait(false);
    }

    public void Dispose() => _http.Dispose();
}
