namespace SharpTune.Pipeline.Config;

/// <summary>
/// Where the results go: a Hugging Face Hub repository when <c>hub_repo</c> is set (the token comes from
/// <c>HF_TOKEN</c>, never from the file), else a local folder.
/// </summary>
public sealed record PublishSettings(string? HubRepo, bool Private, string LocalDirectory)
{
    internal static PublishSettings Read(YamlSection section)
    {
        string? repo = section.OptionalString("hub_repo");
        if (repo is not null && repo.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            section.Error("hub_repo", $"'publish.hub_repo' must look like 'owner/name', got '{repo}'");
        }

        if (section.Has("token"))
        {
            section.Error("token", "'publish.token' is not read from pipeline files: set the HF_TOKEN environment variable instead");
        }

        var settings = new PublishSettings(repo, section.Bool("private", true), section.String("local_dir", "out/publish"));
        section.Finish();
        return settings;
    }
}
