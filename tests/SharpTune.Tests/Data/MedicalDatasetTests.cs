using System.Text.Json;
using System.Text.RegularExpressions;

namespace SharpTune.Tests.Data;

public sealed class MedicalDatasetTests
{
    private static string Dir => Path.Combine(RepositoryPaths.Root, "datasets", "medical");

    [Fact]
    public void Train_has_at_least_200_patterned_rows_in_the_reference_schema()
    {
        var rows = File.ReadAllLines(Path.Combine(Dir, "train.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.True(rows.Count >= 200);
        var pattern = new Regex("^可能原因：[^；]+；建议：[^；]+；注意：[^；]+。$");
        Assert.All(rows, r =>
        {
            Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("instruction").GetString()));
            Assert.StartsWith("患者主诉", r.GetProperty("input").GetString());
            Assert.Matches(pattern, r.GetProperty("output").GetString()!);
        });
        Assert.Equal(rows.Count, rows.Select(r => r.GetProperty("instruction").GetString()).Distinct().Count());
    }

    [Fact]
    public void Eval_holds_out_about_twenty_questions_including_the_fatigue_one()
    {
        var train = File.ReadAllLines(Path.Combine(Dir, "train.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()).ToHashSet();
        var questions = File.ReadAllLines(Path.Combine(Dir, "eval.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()!).ToList();
        Assert.InRange(questions.Count, 15, 30);
        Assert.Contains("我最近总是感到疲劳,可能是什么原因?", questions);
        Assert.DoesNotContain(questions, train.Contains);
    }

    [Fact]
    public void The_generator_is_deterministic_and_wrote_the_committed_files()
    {
        using var dir = new TempDirectory();
        var run = ProcessRunner.RunWithExitCode("python3", null, Path.Combine(Dir, "make_dataset.py"), "--out", dir.Path);
        Assert.SkipWhen(run is null, "python3 is not installed");
        Assert.Equal(0, run!.Value.ExitCode);
        foreach (var file in new[] { "train.jsonl", "eval.jsonl" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(Dir, file)), File.ReadAllText(dir.File(file)));
        }
    }
}
