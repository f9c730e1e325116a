using System.CommandLine;
using SharpTune.Cli.Rendering;
using SharpTune.Hub;

namespace SharpTune.Cli.Commands;

/// <summary>
/// <c>sharptune hub download|upload</c>: the Hugging Face Hub client on the command line. Settings come from the
/// environment like Python's <c>huggingface_hub</c> (<c>HF_TOKEN</c> or the token file, <c>HF_ENDPOINT</c>,
/// <c>HF_HUB_CACHE</c>/<c>HF_HOME</c>, <c>HF_HUB_OFFLINE</c>), so both share one cache and one login.
/// </summary>
public static class HubCommand
{
    public static Command Create(CliContext context, Func<HubOptions>? options = null)
    {
        var settings = options ?? (() => HubOptions.FromEnvironment());
        var command = new Command("hub", "Download from and publish to the Hugging Face Hub (token from HF_TOKEN or `hf auth login`'s token file; cache shared with Python).");
        command.Subcommands.Add(CreateDownload(context, settings));
        command.Subcommands.Add(CreateUpload(context, settings));
        return command;
    }

    private static Option<string> TypeOption() => new Option<string>("--type")
    {
        Description = "The repo type: model or dataset.",
        DefaultValueFactory = _ => "model",
    }.AcceptOnlyFromAmongAndReturn("model", "dataset");

    private static Option<string> AcceptOnlyFromAmongAndReturn(this Option<string> option, params string[] values)
    {
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    private static Command CreateDownload(CliContext context, Func<HubOptions> settings)
    {
        var repo = new Argument<string>("REPO") { Description = "The repo id, e.g. deepseek-ai/DeepSeek-R1-Distill-Llama-8B." };
        var type = TypeOption();
        var revision = new Option<string>("--revision") { Description = "A branch, tag or commit hash.", DefaultValueFactory = _ => "main" };
        var include = new Option<string[]>("--include")
        {
            Description = "Only files matching these patterns (fnmatch: '*.json', 'data/'); a sharded checkpoint index still brings its shards.",
            AllowMultipleArgumentsPerToken = true,
        };
        var localDir = new Option<string?>("--local-dir") { Description = "Also copy the files into this folder (the cache keeps its copy)." };
        var command = new Command("download", "Download a repo snapshot into the Hugging Face cache (resumable, verified) and print its folder.")
        {
            repo, type, revision, include, localDir,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var options = settings() is var o && o.Log is null ? WithLog(o, context) : o;
            using var client = new HubClient(options);
            using var progress = new ConsoleProgress(context.Error);
            string snapshot = await client.DownloadSnapshotAsync(parsed.GetValue(repo)!, RepoTypeNames.Parse(parsed.GetValue(type)!),
                parsed.GetValue(revision)!, parsed.GetValue(include), progress, cancellationToken);
            if (parsed.GetValue(localDir) is { Length: > 0 } target)
            {
                int copied = HubClient.CopySnapshot(snapshot, target);
                context.Error.WriteLine($"copied {copied} files to {target}");
                snapshot = Path.GetFullPath(target);
            }

            context.Out.WriteLine(snapshot);
            return 0;
        });
        return command;
    }

    private static Command CreateUpload(CliContext context, Func<HubOptions> settings)
    {
        var repo = new Argument<string>("REPO") { Description = "The repo id to publish to, e.g. my-org/my-model (created if missing)." };
        var folder = new Argument<string>("FOLDER") { Description = "The folder whose files become the repo's files." };
        var type = TypeOption();
        var isPrivate = new Option<bool>("--private") { Description = "Create the repo as private (an existing repo keeps its visibility)." };
        var message = new Option<string>("--message") { Description = "The commit message.", DefaultValueFactory = _ => "Upload with SharpTune" };
        var revision = new Option<string>("--revision") { Description = "The branch to commit to.", DefaultValueFactory = _ => "main" };
        var command = new Command("upload", "Publish a folder to a Hub repo as one commit; large files go through LFS, unchanged files are skipped.")
        {
            repo, folder, type, isPrivate, message, revision,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var options = settings() is var o && o.Log is null ? WithLog(o, context) : o;
            string repoId = parsed.GetValue(repo)!;
            var repoType = RepoTypeNames.Parse(parsed.GetValue(type)!);
            using var client = new HubClient(options);
            using var progress = new ConsoleProgress(context.Error);
            string url = await client.CreateRepoAsync(repoId, repoType, parsed.GetValue(isPrivate), existOk: true, cancellationToken);
            var result = await client.UploadFolderAsync(repoId, repoType, parsed.GetValue(folder)!, parsed.GetValue(message)!, parsed.GetValue(revision)!,
                progress, cancellationToken);
            context.Error.WriteLine($"uploaded {result.Uploaded.Count} files ({result.UploadedToLfs.Count} through LFS), skipped {result.Skipped.Count} unchanged");
            context.Out.WriteLine(result.CommitOid is null ? $"{url} (nothing changed, no commit)" : result.CommitUrl ?? url);
            return 0;
        });
        return command;
    }

    private static HubOptions WithLog(HubOptions options, CliContext context) => options with { Log = line => context.Error.WriteLine(line) };
}
