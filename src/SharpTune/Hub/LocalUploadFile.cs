using System.Security.Cryptography;
using System.Text;

namespace SharpTune.Hub;

/// <summary>
/// A local file to publish: its repo path, size, sha256 (the LFS oid), git blob sha1 (a regular file's oid) and first
/// 512 bytes (the sample the Hub's pre-upload check looks at). Hashed in one streaming pass; never loaded whole.
/// </summary>
public sealed record LocalUploadFile(string LocalPath, string RepoPath, long Size, string Sha256, string GitSha1, byte[] Sample)
{
    public static async Task<LocalUploadFile> HashAsync(string localPath, string repoPath, CancellationToken cancellationToken = default)
    {
        await using var stream = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        long size = stream.Length;
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        var buffer = new byte[1 << 20];
        var sample = new List<byte>(512);
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            var chunk = buffer.AsSpan(0, read);
            if (sample.Count < 512)
            {
                sample.AddRange(chunk[..Math.Min(read, 512 - sample.Count)]);
            }

            sha256.AppendData(chunk);
            sha1.AppendData(chunk);
            total += read;
        }

        if (total != size)
        {
            throw new SharpTuneException($"{localPath}: the file changed while it was being hashed");
        }

        return new LocalUploadFile(localPath, repoPath, size, Convert.ToHexStringLower(sha256.GetHashAndReset()),
            Convert.ToHexStringLower(sha1.GetHashAndReset()), [.. sample]);
    }
}
