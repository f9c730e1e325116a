namespace SharpTune.Hub;

/// <summary>
/// What a publish did: the new commit (null when nothing changed), the files sent (<see cref="Uploaded"/>, with
/// <see cref="UploadedToLfs"/> among them) and the files skipped because the remote already had the same content.
/// </summary>
public sealed record HubUploadResult(string? CommitOid, string? CommitUrl, IReadOnlyList<string> Uploaded, IReadOnlyList<string> UploadedToLfs, IReadOnlyList<string> Skipped);
