namespace SharpTune.Hub;

/// <summary>What a request is about, so that an error can say it in one line ("file 'x' not found in org/name at main").</summary>
internal sealed record HubRequestContext(string RepoId, RepoType Type, string? Revision = null, string? FilePath = null, bool Write = false)
{
    public string Describe => $"{Type.Name()} {RepoId}";
}
