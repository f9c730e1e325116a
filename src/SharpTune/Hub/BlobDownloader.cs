using System.Security.Cryptography;
using System.Text;
using Flurl.Http;

namespace SharpTune.Hub;

/// <summary>
/// Downloads a blob into <c>blobs/{etag}.incomplete</c>, resuming with <c>Range: bytes=N-</c> after a dropped
/// connection, checks its size and hash (sha256 for LFS files, git blob sha1 for regular ones), and only then renames
/// it to <c>blobs/{etag}</c>. A blob that fails its checks is deleted and reported, never linked into a snapshot.
/// A lock file (<c>.locks/.../{etag}.lock</c>, the same one <c>huggingface_hub</c> takes) keeps two downloads of
/// one blob, in this process or another, from writing at once.
/// </summary>
internal sealed class BlobDownloader(HubHttp http, HubOptions options)
{
    private const int BufferSize = 1 << 20;

    /// <summary>Makes sure blobs/{etag} is in the cache and complete; <paramref name="onBytes"/> gets byte deltas (negative on a restart).</summary>
    public async Task<string> EnsureBlobAsync(HubRepoCache cache, BlobRequest request, Action<long> onBytes, CancellationToken cancellationToken)
    {
        string blob = cache.BlobPath(request.Etag);
        if (File.Exists(blob) && (request.Size is null || new FileInfo(blob).Length == request.Size))
        {
            return blob;
        }

        Directory.CreateDirectory(cache.BlobsDirectory);
        using var fileLock = await AcquireLockAsync(cache.LockPath(request.Etag), cancellationToken).ConfigureAwait(false);
        if (File.Exists(blob) && (request.Size is null || new FileInfo(blob).Length == request.Size))
        {
            return blob;
        }

        string incomplete = cache.IncompletePath(request.Etag);
        long reported = 0;
        void Report(long total)
        {
            onBytes(total - reported);
            reported = total;
        }

        try
        {
            await http.RetryAsync($"download {cache.RepoId}/{request.RepoPath}",
                async ct => await DownloadAttemptAsync(cache, request, incomplete, Report, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            Verify(cache, request, incomplete);
        }
        catch (SharpTuneException) when (reported > 0 && !File.Exists(incomplete))
        {
            Report(0);
            throw;
        }

        File.Move(incomplete, blob, overwrite: true);
        return blob;
    }

    private async Task<bool> DownloadAttemptAsync(HubRepoCache cache, BlobRequest request, string incomplete, Action<long> report, CancellationToken ct)
    {
        long offset = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (request.Size is { } size && offset > size)
        {
            File.Delete(incomplete);
            offset = 0;
        }

        report(offset);
        if (request.Size is { } complete && offset == complete && complete > 0)
        {
            return true;
        }

        var headers = new Dictionary<string, string> { ["Accept-Encoding"] = "identity" };
        if (offset > 0)
        {
            headers["Range"] = $"bytes={offset}-";
        }

        using var response = await http.SendRawAsync(HttpMethod.Get, request.Url, headers: headers,
            completion: HttpCompletionOption.ResponseHeadersRead, cancellationToken: ct).ConfigureAwait(false);
        if (response.StatusCode == 416)
        {
            File.Delete(incomplete);
            report(0);
            throw new HubTransientException($"{request.RepoPath}: the server refused to resume at byte {offset}; starting over");
        }

        http.EnsureSuccess(response, HttpMethod.Get, request.Url, new HubRequestContext(cache.RepoId, cache.Type, request.Revision, request.RepoPath));
        if (response.StatusCode == 206 && HubHttp.ContentRange(response) is { } range)
        {
            if (range.From != offset)
            {
                File.Delete(incomplete);
                report(0);
                throw new HubTransientException($"{request.RepoPath}: the server resumed at byte {range.From}, not {offset}; starting over");
            }

            CheckAnnouncedSize(cache, request, incomplete, range.Length);
        }
        else
        {
            if (offset > 0)
            {
                offset = 0;
                report(0);
            }

            CheckAnnouncedSize(cache, request, incomplete, HubHttp.ContentLength(response));
        }

        await using var body = await response.GetStreamAsync().ConfigureAwait(false);
        await using var file = new FileStream(incomplete, offset == 0 ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.None, BufferSize, useAsync: true);
        var buffer = new byte[BufferSize];
        long written = offset;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            stall.CancelAfter(options.ReadTimeout);
            int read;
            try
            {
                read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new HubTransientException($"{request.RepoPath}: no data for {options.ReadTimeout.TotalSeconds:0.#} s after byte {written}");
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new HubTransientException($"{request.RepoPath}: connection dropped after byte {written} ({http.Redactor.Redact(e.Message)})");
            }

            if (read == 0)
            {
                break;
            }

            if (request.Size is { } expected && written + read > expected)
            {
                await file.DisposeAsync().ConfigureAwait(false);
                File.Delete(incomplete);
                throw new SharpTuneException($"{cache.RepoId}/{request.RepoPath}: the server sent more than the expected {expected} bytes; the download was discarded");
            }

            await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
            written += read;
            report(written);
        }

        return true;
    }

    private static void CheckAnnouncedSize(HubRepoCache cache, BlobRequest request, string incomplete, long? announced)
    {
        if (request.Size is { } expected && announced is { } total && total != expected)
        {
            File.Delete(incomplete);
            throw new SharpTuneException(
                $"{cache.RepoId}/{request.RepoPath}: the server sends {total} bytes but the file should have {expected}; the download was discarded");
        }
    }

    private static void Verify(HubRepoCache cache, BlobRequest request, string incomplete)
    {
        long length = new FileInfo(incomplete).Length;
        string where = $"{cache.RepoId}/{request.RepoPath}";
        if (request.Size is { } expected && length != expected)
        {
            File.Delete(incomplete);
            throw new SharpTuneException($"{where}: downloaded {length} bytes but the file should have {expected}; the download was discarded");
        }

        if (request.Sha256 is { } sha256)
        {
            string actual = HashFile(incomplete, SHA256.Create(), prefix: null);
            if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(incomplete);
                throw new SharpTuneException($"{where}: sha256 mismatch (expected {sha256}, got {actual}); the download was discarded");
            }
        }
        else if (request.GitSha1 is { } gitSha1)
        {
            string actual = HashFile(incomplete, SHA1.Create(), Encoding.ASCII.GetBytes($"blob {length}\0"));
            if (!string.Equals(actual, gitSha1, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(incomplete);
                throw new SharpTuneException($"{where}: git blob sha1 mismatch (expected {gitSha1}, got {actual}); the download was discarded");
            }
        }
    }

    private static string HashFile(string path, HashAlgorithm algorithm, byte[]? prefix)
    {
        using (algorithm)
        {
            if (prefix is not null)
            {
                algorithm.TransformBlock(prefix, 0, prefix.Length, null, 0);
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize);
            var buffer = new byte[BufferSize];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                algorithm.TransformBlock(buffer, 0, read, null, 0);
            }

            algorithm.TransformFinalBlock([], 0, 0);
            return Convert.ToHexStringLower(algorithm.Hash!);
        }
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
