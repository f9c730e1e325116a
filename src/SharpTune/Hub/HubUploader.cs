using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Progress;

namespace SharpTune.Hub;

/// <summary>
/// Publishes a folder as one commit: hashes every file (streaming), compares with the remote tree (an LFS file whose
/// sha256 equals the remote <c>lfs.oid</c>, or a regular file whose git blob sha1 equals the remote <c>oid</c>, is
/// skipped), asks <c>/preupload/</c> which of the rest go to LFS, sends those through <see cref="LfsUploader"/>, and
/// commits everything through the NDJSON commit API. Nothing changed means no commit.
/// </summary>
internal sealed class HubUploader(HubHttp http, HubClient client)
{
    /// <summary>The largest file sent inline (base64 in the commit body); the Hub routes anything near this to LFS.</summary>
    private const long MaxInlineBytes = 64L << 20;

    private static readonly string[] IgnoredFolders = [".git/", ".cache/huggingface/"];

    public Task<HubUploadResult> UploadFolderAsync(string repoId, RepoType type, string folder, string commitMessage, string revision,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(folder))
        {
            throw new SharpTuneException($"{folder}: no such folder to upload");
        }

        var files = new List<(string RepoPath, string LocalPath)>();
        foreach (string path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(folder, path).Replace('\\', '/');
            if (!IgnoredFolders.Any(ignored => relative.StartsWith(ignored, StringComparison.Ordinal)))
            {
                files.Add((relative, path));
            }
        }

        return UploadFilesAsync(repoId, type, files, commitMessage, revision, progress, cancellationToken);
    }

    public async Task<HubUploadResult> UploadFilesAsync(string repoId, RepoType type, IReadOnlyList<(string RepoPath, string LocalPath)> files,
        string commitMessage, string revision, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(commitMessage))
        {
            throw new SharpTuneException("the commit message is empty");
        }

        var duplicate = files.GroupBy(f => f.RepoPath, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new SharpTuneException($"{repoId}: two files would be published as '{duplicate.Key}'");
        }

        var context = new HubRequestContext(repoId, type, revision, Write: true);
        var local = new List<LocalUploadFile>();
        foreach (var (repoPath, localPath) in files)
        {
            if (!RepoFilePath.IsSafe(repoPath))
            {
                throw new SharpTuneException($"{localPath}: '{repoPath}' cannot be a repo path");
            }

            if (!File.Exists(localPath))
            {
                throw new SharpTuneException($"{localPath}: no such file to upload");
            }

            local.Add(await LocalUploadFile.HashAsync(localPath, repoPath, cancellationToken).ConfigureAwait(false));
        }

        var remote = (await client.ListFilesOrEmptyAsync(repoId, type, revision, cancellationToken).ConfigureAwait(false))
            .ToDictionary(f => f.Path, StringComparer.Ordinal);
        var skipped = new List<string>();
        var changed = new List<LocalUploadFile>();
        foreach (var file in local)
        {
            bool same = remote.TryGetValue(file.RepoPath, out var entry) && entry.Size == file.Size
                && (entry.IsLfs ? string.Equals(entry.LfsSha256, file.Sha256, StringComparison.OrdinalIgnoreCase)
                                : string.Equals(entry.GitOid, file.GitSha1, StringComparison.OrdinalIgnoreCase));
            if (same)
            {
                skipped.Add(file.RepoPath);
            }
            else
            {
                changed.Add(file);
            }
        }

        foreach (string path in skipped)
        {
            http.Log($"{path}: unchanged on the Hub, skipped");
        }

        if (changed.Count == 0)
        {
            return new HubUploadResult(null, null, [], [], skipped);
        }

        var modes = await PreuploadAsync(context, revision, changed, cancellationToken).ConfigureAwait(false);
        var regular = new List<LocalUploadFile>();
        var lfs = new List<LocalUploadFile>();
        foreach (var file in changed)
        {
            var (mode, ignore) = modes.TryGetValue(file.RepoPath, out var m) ? m : ("regular", false);
            if (ignore)
            {
                http.Log($"{file.RepoPath}: ignored by the repo's .gitignore, skipped");
                skipped.Add(file.RepoPath);
                continue;
            }

            if (mode != "lfs" && file.Size > MaxInlineBytes)
            {
                throw new SharpTuneException($"{file.LocalPath}: the Hub asked for this {file.Size}-byte file inline, not through LFS; files over {MaxInlineBytes >> 20} MiB are only sent through LFS");
            }

            (mode == "lfs" ? lfs : regular).Add(file);
        }

        long total = changed.Sum(f => f.Size);
        long done = 0;
        string task = $"upload {repoId}";
        void Report(long bytes)
        {
            long now = Interlocked.Add(ref done, bytes);
            progress?.Report(new OperationProgress(task, Math.Clamp(now, 0, total), total, "B"));
        }

        await new LfsUploader(http).UploadAsync(context, revision, lfs, Report, cancellationToken).ConfigureAwait(false);
        string url = $"{http.Endpoint}/api/{type.Plural()}/{repoId}/commit/{HubClient.EscapeRevision(revision)}";
        using var response = await http.SendAsync(HttpMethod.Post, url, context, () => CommitPayload.Create(commitMessage, regular, lfs),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        var answer = JsonNode.Parse(await response.GetStringAsync().ConfigureAwait(false));
        Report(regular.Sum(f => f.Size));
        return new HubUploadResult(answer?["commitOid"]?.GetValue<string>(), answer?["commitUrl"]?.GetValue<string>(),
            [.. regular.Concat(lfs).Select(f => f.RepoPath).Order(StringComparer.Ordinal)], [.. lfs.Select(f => f.RepoPath)], skipped);
    }

    /// <summary>
    /// <c>POST /api/{type}s/{id}/preupload/{revision}</c> with each file's path, size and base64 first 512 bytes; the
    /// Hub answers <c>uploadMode</c> ("lfs" or "regular") and <c>shouldIgnore</c> per path.
    /// </summary>
    private async Task<Dictionary<string, (string Mode, bool Ignore)>> PreuploadAsync(HubRequestContext context, string revision,
        IReadOnlyList<LocalUploadFile> files, CancellationToken cancellationToken)
    {
        var modes = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        string url = $"{http.Endpoint}/api/{context.Type.Plural()}/{context.RepoId}/preupload/{HubClient.EscapeRevision(revision)}";
        foreach (var chunk in files.Chunk(256))
        {
            string body = new JsonObject
            {
                ["files"] = new JsonArray([.. chunk.Select(f => (JsonNode)new JsonObject
                {
                    ["path"] = f.RepoPath,
                    ["sample"] = Convert.ToBase64String(f.Sample),
                    ["size"] = f.Size,
                })]),
            }.ToJsonString();
            using var response = await http.SendAsync(HttpMethod.Post, url, context, () => LfsUploader.Json(body, "application/json"),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            using var document = JsonDocument.Parse(await response.GetStringAsync().ConfigureAwait(false));
            if (!document.RootElement.TryGetProperty("files", out var answers) || answers.ValueKind != JsonValueKind.Array)
            {
                throw new SharpTuneException($"{context.Describe}: the pre-upload answer has no 'files'");
            }

            foreach (var answer in answers.EnumerateArray())
            {
                string path = answer.GetProperty("path").GetString() ?? "";
                string mode = answer.TryGetProperty("uploadMode", out var m) ? m.GetString() ?? "regular" : "regular";
                bool ignore = answer.TryGetProperty("shouldIgnore", out var i) && i.ValueKind == JsonValueKind.True;
                modes[path] = (mode, ignore);
            }
        }

        foreach (var file in files.Where(f => f.Size == 0))
        {
            modes[file.RepoPath] = ("regular", modes.TryGetValue(file.RepoPath, out var m) && m.Item2);
        }

        return modes;
    }
}
