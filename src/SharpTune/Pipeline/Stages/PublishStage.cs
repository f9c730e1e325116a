using System.Text.Json;
using System.Text.Json.Nodes;
using SharpTune.Hub;
using SharpTune.Pipeline.Cache;
using SharpTune.Pipeline.Config;
using SharpTune.Pipeline.Running;

namespace SharpTune.Pipeline.Stages;

/// <summary>
/// Publish: the adapter, the GGUF files, the Ollama Modelfile and the evaluation report, to a Hugging Face Hub
/// repository (<c>publish.hub_repo</c>, token from <c>HF_TOKEN</c>) or else to a local folder
/// (<c>publish.local_dir</c>). Its artifact is a receipt, <c>publish.json</c>, listing what went where; a local
/// folder that was deleted or changed since is published again.
/// </summary>
public sealed class PublishStage : IExternalOutputStage
{
    public const string ReceiptFile = "publish.json";

    public string Name => StageNames.Publish;

    public string Description => "Publish the adapter, GGUF files, Modelfile and report to the Hub (or a local folder).";

    public IReadOnlyList<string> Inputs => [StageNames.TrainLoRA, StageNames.Evaluate, StageNames.ExportGguf];

    public JsonObject ResolveSettings(PipelineDefinition pipeline)
    {
        var settings = StageSettings.Create(1);
        settings["publish"] = StageSettings.ToJson(pipeline.Publish);
        settings["name"] = pipeline.Name;
        return settings;
    }

    /// <summary>
    /// What is published, as (path in the published folder, source file): the adapter folder's files under
    /// <c>adapter/</c>, every GGUF file and the Modelfile at the top, the report's files under <c>report/</c>.
    /// </summary>
    public static IReadOnlyList<(string Target, string Source)> Bundle(IReadOnlyDictionary<string, Artifact> inputs)
    {
        var files = new List<(string, string)>();
        void AddFolder(string? folder, string prefix)
        {
            if (folder is null || !Directory.Exists(folder))
            {
                return;
            }

            foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                files.Add((prefix + Path.GetRelativePath(folder, file).Replace('\\', '/'), file));
            }
        }

        var train = inputs[StageNames.TrainLoRA];
        AddFolder(train.Output("adapter"), "adapter/");
        var export = inputs[StageNames.ExportGguf];
        foreach (var (name, _) in export.Marker.Outputs.Where(o => o.Key.StartsWith("gguf", StringComparison.Ordinal) || o.Key == "modelfile").OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            string path = export.Output(name)!;
            files.Add((Path.GetFileName(path), path));
        }

        AddFolder(inputs[StageNames.Evaluate].Output("report_folder"), "report/");
        return files;
    }

    public async Task RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var publish = context.Pipeline.Publish;
        var bundle = Bundle(context.Inputs);
        if (bundle.Count == 0)
        {
            throw new SharpTuneException("publish: the inputs have nothing to publish (no adapter, GGUF or report)");
        }

        if (publish.HubRepo is { } repo)
        {
            await PublishToHubAsync(context, repo, publish.Private, bundle, cancellationToken).ConfigureAwait(false);
            return;
        }

        string destination = Path.GetFullPath(publish.LocalDirectory);
        var receipt = new JsonArray();
        foreach (var (target, source) in bundle)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string path = Path.Combine(destination, target);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string temp = path + ".partial";
            File.Copy(source, temp, overwrite: true);
            File.Move(temp, path, overwrite: true);
            receipt.Add(new JsonObject { ["path"] = target, ["bytes"] = new FileInfo(path).Length });
        }

        var document = new JsonObject { ["destination"] = destination, ["files"] = receipt };
        await File.WriteAllTextAsync(context.OutputPath(ReceiptFile), document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false);
        context.AddOutput("receipt", ReceiptFile);
        context.AddOutput("folder", destination);
        AddPublishedOutputs(context, destination, bundle.Select(b => b.Target));
        context.Log.WriteLine($"  published {bundle.Count} files to {destination}");
    }

    private static async Task PublishToHubAsync(StageContext context, string repo, bool isPrivate, IReadOnlyList<(string Target, string Source)> bundle, CancellationToken cancellationToken)
    {
        var options = HubOptions.FromEnvironment() with { Log = line => context.Log.WriteLine("  " + line) };
        if (options.Token is null)
        {
            throw new SharpTuneException($"publish.hub_repo is {repo}, but no Hugging Face token is set: export HF_TOKEN (a write token), or remove hub_repo to publish to a local folder");
        }

        // The folder as it will look in the repository, staged in the work directory.
        string staging = Path.Combine(context.WorkDirectory, "upload");
        ArtifactCache.DeleteDirectory(staging);
        foreach (var (target, source) in bundle)
        {
            string path = Path.Combine(staging, target);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Copy(source, path, overwrite: true);
        }

        using var client = new HubClient(options);
        string url = await client.CreateRepoAsync(repo, RepoType.Model, isPrivate, existOk: true, cancellationToken).ConfigureAwait(false);
        var result = await client.UploadFolderAsync(repo, RepoType.Model, staging, $"SharpTune: {context.Pipeline.Name}", cancellationToken: cancellationToken).ConfigureAwait(false);
        var document = new JsonObject
        {
            ["repo"] = repo,
            ["url"] = url,
            ["commit"] = result.CommitOid,
            ["commit_url"] = result.CommitUrl,
            ["uploaded"] = new JsonArray(result.Uploaded.Select(u => (JsonNode?)u).ToArray()),
            ["skipped"] = new JsonArray(result.Skipped.Select(u => (JsonNode?)u).ToArray()),
        };
        await File.WriteAllTextAsync(context.OutputPath(ReceiptFile), document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false);
        context.AddOutput("receipt", ReceiptFile);
        context.AddOutput("hub", url);
        context.Log.WriteLine($"  {url}: {result.Uploaded.Count} files uploaded, {result.Skipped.Count} unchanged{(result.CommitUrl is null ? "" : ", commit " + result.CommitUrl)}");
    }

    public bool IsStillInPlace(Artifact artifact, PipelineDefinition pipeline, out string? reason)
    {
        reason = null;
        string receiptPath = Path.Combine(artifact.Directory, ReceiptFile);
        if (!File.Exists(receiptPath) || JsonNode.Parse(File.ReadAllText(receiptPath)) is not JsonObject receipt)
        {
            reason = "its receipt is missing";
            return false;
        }

        if (pipeline.Publish.HubRepo is not null)
        {
            return true;
        }

        string destination = (string?)receipt["destination"] ?? "";
        foreach (var file in receipt["files"]?.AsArray() ?? [])
        {
            string path = Path.Combine(destination, (string?)file?["path"] ?? "");
            if (!File.Exists(path) || new FileInfo(path).Length != (long?)file?["bytes"])
            {
                reason = $"{path} is missing or changed";
                return false;
            }
        }

        return true;
    }

    private static void AddPublishedOutputs(StageContext context, string destination, IEnumerable<string> targets)
    {
        var list = targets.ToList();
        if (list.Any(t => t.StartsWith("adapter/", StringComparison.Ordinal)))
        {
            context.AddOutput("adapter", Path.Combine(destination, "adapter"));
        }

        foreach (string gguf in list.Where(t => t.EndsWith(".gguf", StringComparison.Ordinal)))
        {
            context.AddOutput("gguf " + Path.GetFileNameWithoutExtension(gguf).Split('-')[^1], Path.Combine(destination, gguf));
        }

        if (list.Contains("Modelfile"))
        {
            context.AddOutput("modelfile", Path.Combine(destination, "Modelfile"));
        }

        if (list.Contains("report/report.md"))
        {
            context.AddOutput("report", Path.Combine(destination, "report", "report.md"));
        }
    }
}
