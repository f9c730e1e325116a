using System.Security.Cryptography;
using System.Text;

namespace SharpTune.Pipeline.Cache;

/// <summary>
/// SHA-256 over a directory's files: each file's relative path (with '/'), length and content hash, in ordinal
/// order of path. The same files give the same digest wherever the directory is.
/// </summary>
public static class DirectoryDigest
{
    public static string Compute(string directory, IEnumerable<string>? exclude = null)
    {
        var skip = new HashSet<string>(exclude ?? [], StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Select(f => (Full: f, Relative: Path.GetRelativePath(directory, f).Replace('\\', '/')))
            .Where(f => !skip.Contains(f.Relative))
            .OrderBy(f => f.Relative, StringComparer.Ordinal);
        using var total = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (full, relative) in files)
        {
            byte[] content;
            long length;
            using (var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            {
                length = stream.Length;
                content = SHA256.HashData(stream);
            }

            total.AppendData(Encoding.UTF8.GetBytes($"{relative}\0{length}\0{Convert.ToHexStringLower(content)}\n"));
        }

        return Convert.ToHexStringLower(total.GetHashAndReset());
    }
}
