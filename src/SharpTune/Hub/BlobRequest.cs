namespace SharpTune.Hub;

/// <summary>
/// One blob to bring into the cache: where to GET it (a resolve URL at a commit; the Hub may redirect to its LFS
/// CDN), its etag (the blob's file name), and what it must be: size, sha256 for LFS files, git blob sha1 for others.
/// </summary>
internal sealed record BlobRequest(string Url, string Revision, string RepoPath, string Etag, long? Size, string? Sha256, string? GitSha1);
