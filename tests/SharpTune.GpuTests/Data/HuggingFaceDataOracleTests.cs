using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SharpTune.Data.Templates;
using SharpTune.Models.Tokenization;

namespace SharpTune.GpuTests.Data;

/// <summary>
/// On the GPU host (which has Hugging Face tokenizers and transformers, and no .NET SDK): runs the data oracles into a
/// temporary directory and compares HfTokenizer and the chat renderers with them directly. Needs the repository
/// (SHARPTUNE_REPO, else the current directory) with .tools/tokenizers (build/fetch-tokenizers.sh). Takes seconds.
/// </summary>
public sealed class HuggingFaceDataOracleTests
{
    private static string Repo => Environment.GetEnvironmentVariable("SHARPTUNE_REPO") ?? Directory.GetCurrentDirectory();

    private static string Tokenizers => Path.Combine(Repo, ".tools", "tokenizers");

    [Fact]
    public void Token_ids_and_decoding_equal_hugging_face_tokenizers_and_transformers()
    {
        using var output = new TemporaryDirectory();
        RunOracle("tokenizer_ids.py", "--tokenizers", Tokenizers, "--corpus", Fixture("tokenizer", "corpus.jsonl"), "--out", output.Path);
        var texts = File.ReadLines(Fixture("tokenizer", "corpus.jsonl")).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(r => r.GetProperty("id").GetInt32(), r => r.GetProperty("text").GetString()!);
        var failures = new StringBuilder();
        foreach (var name in new[] { "llama3", "qwen3", "llama2" })
        {
            var tokenizer = HfTokenizer.Load(Path.Combine(Tokenizers, name));
            foreach (var line in File.ReadLines(Path.Combine(output.Path, $"expected_{name}.jsonl")).Where(l => l.Length > 0))
            {
                var row = JsonDocument.Parse(line).RootElement;
                int id = row.GetProperty("id").GetInt32();
                int[] Ids(string p) => row.GetProperty(p).EnumerateArray().Select(e => e.GetInt32()).ToArray();
                Compare(failures, $"{name} row {id} ids", string.Join(",", Ids("ids")), string.Join(",", tokenizer.Encode(texts[id], false)));
                Compare(failures, $"{name} row {id} ids_special", string.Join(",", Ids("ids_special")), string.Join(",", tokenizer.Encode(texts[id], true)));
                Compare(failures, $"{name} row {id} decoded", row.GetProperty("decoded").GetString()!, tokenizer.Decode(Ids("ids_special")));
                Compare(failures, $"{name} row {id} decoded_special", row.GetProperty("decoded_special").GetString()!, tokenizer.Decode(Ids("ids_special"), false));
            }
        }

        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void Chat_renderers_equal_transformers_apply_chat_template()
    {
        using var output = new TemporaryDirectory();
        RunOracle("chat_templates.py", "--tokenizers", Tokenizers, "--messages", Fixture("chat", "messages.json"),
            "--templates", Fixture("chat", "templates.json"), "--out", output.Path);
        var conversations = JsonDocument.Parse(File.ReadAllText(Fixture("chat", "messages.json"))).RootElement.EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList());
        var failures = new StringBuilder();
        foreach (var name in new[] { "llama3", "chatml", "qwen3", "mistral", "deepseek-r1" })
        {
            var template = PromptTemplateCatalog.GetChat(name);
            foreach (var entry in JsonDocument.Parse(File.ReadAllText(Path.Combine(output.Path, $"expected_{name}.json"))).RootElement.EnumerateObject())
            {
                var messages = conversations[entry.Name];
                if (entry.Value.GetProperty("error").ValueKind == JsonValueKind.String)
                {
                    bool threw = false;
                    try
                    {
                        template.Format(messages, false);
                    }
                    catch (SharpTuneException)
                    {
                        threw = true;
                    }

                    Compare(failures, $"{name} {entry.Name} raises", "True", threw.ToString());
                    continue;
                }

                Compare(failures, $"{name} {entry.Name} plain", entry.Value.GetProperty("plain").GetString()!, template.Format(messages, false));
                Compare(failures, $"{name} {entry.Name} generation", entry.Value.GetProperty("generation").GetString()!, template.Format(messages, true));
            }
        }

        Assert.True(failures.Length == 0, failures.ToString());
    }

    private static string Fixture(params string[] parts) => Path.Combine([Repo, "tests", "fixtures", .. parts]);

    private static void Compare(StringBuilder failures, string what, string expected, string actual)
    {
        if (expected != actual)
        {
            failures.AppendLine($"{what}:\n  expected {JsonSerializer.Serialize(expected)}\n  got      {JsonSerializer.Serialize(actual)}");
        }
    }

    private static void RunOracle(string script, params string[] arguments)
    {
        Assert.SkipUnless(File.Exists(Path.Combine(Tokenizers, "llama3", "tokenizer.json")),
            $"{Tokenizers} is missing: copy .tools/tokenizers (build/fetch-tokenizers.sh) to the GPU host and set SHARPTUNE_REPO");
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Repo, "tests", "oracles", script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{script} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr}");
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public TemporaryDirectory() => Directory.CreateDirectory(Path);

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharptune-oracle-" + Guid.NewGuid().ToString("N"));

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
