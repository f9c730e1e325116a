using System.Text.Json.Nodes;
using SharpTune.Pipeline.Cache;

namespace SharpTune.Tests.Pipeline;

public sealed class ArtifactCacheTests
{
    private static readonly string Key = new('a', 64);
    private static readonly Dictionary<string, string> NoOutputs = [];

    [Fact]
    public void A_committed_artifact_is_a_hit_with_its_marker_written_last_and_a_digest_of_its_files()
    {
        using var temp = new TempPipeline();
        using (var write = temp.Cache.BeginWrite("Stage", Key))
        {
            File.WriteAllText(Path.Combine(write.PartialDirectory, "out.txt"), "hello");
            Assert.False(temp.Cache.TryGet("Stage", Key, out _));
            var artifact = write.Commit("1.0", null, new Dictionary<string, string> { ["text"] = "out.txt" });
            Assert.Equal(temp.Cache.ArtifactDirectory("Stage", Key), artifact.Directory);
        }

        Assert.True(temp.Cache.TryGet("Stage", Key, out var hit));
        Assert.Equal("hello", File.ReadAllText(hit.Output("text")!));
        Assert.Equal(DirectoryDigest.Compute(hit.Directory, [CompletionMarker.FileName]), hit.Marker.Digest);
        Assert.Equal(["complete.json", "out.txt"], Directory.GetFileSystemEntries(hit.Directory).Select(Path.GetFileName).Order());
        Assert.Equal(["Stage/" + Key, "Stage/" + Key + ".lock"],
            Directory.GetFileSystemEntries(Path.Combine(temp.Cache.Root, "Stage")).Select(p => Path.GetRelativePath(temp.Cache.Root, p)).Order());
    }

    [Fact]
    public void A_stage_that_throws_leaves_no_artifact_and_no_partial_directory_but_keeps_its_work_directory()
    {
        using var temp = new TempPipeline();
        string work;
        using (var write = temp.Cache.BeginWrite("Stage", Key))
        {
            File.WriteAllText(Path.Combine(write.PartialDirectory, "half.bin"), "half");
            File.WriteAllText(Path.Combine(write.WorkDirectory, "checkpoint"), "step 2");
            work = write.WorkDirectory;
        }

        Assert.False(temp.Cache.TryGet("Stage", Key, out _));
        Assert.False(Directory.Exists(temp.Cache.ArtifactDirectory("Stage", Key)));
        Assert.Empty(Directory.GetDirectories(Path.Combine(temp.Cache.Root, "Stage"), "*.partial-*"));
        Assert.Equal("step 2", File.ReadAllText(Path.Combine(work, "checkpoint")));
    }

    [Fact]
    public void Leftovers_of_a_killed_writer_are_never_hits_and_are_cleaned_by_the_next_writer()
    {
        using var temp = new TempPipeline();
        string final = temp.Cache.ArtifactDirectory("Stage", Key);
        Directory.CreateDirectory(final + ".partial-999999");
        File.WriteAllText(Path.Combine(final + ".partial-999999", "half.bin"), "x");
        Directory.CreateDirectory(final);                                  // renamed but no marker (e.g. copied by hand)
        File.WriteAllText(Path.Combine(final, "half.bin"), "x");
        Directory.CreateDirectory(final + ".old-999999");
        Assert.False(temp.Cache.TryGet("Stage", Key, out _));

        File.WriteAllText(Path.Combine(final, CompletionMarker.FileName), "{ not json");
        Assert.False(temp.Cache.TryGet("Stage", Key, out _));
        Assert.Empty(temp.Cache.List());

        using (var write = temp.Cache.BeginWrite("Stage", Key))
        {
            Assert.False(Directory.Exists(final + ".partial-999999"));
            Assert.False(Directory.Exists(final + ".old-999999"));
            Assert.False(Directory.Exists(final));
            write.Commit("1.0", null, NoOutputs);
        }

        Assert.True(temp.Cache.TryGet("Stage", Key, out var artifact));
        Assert.Empty(Directory.GetFiles(artifact.Directory, "half.bin"));
    }

    [Fact]
    public void A_marker_for_another_key_is_not_a_hit()
    {
        using var temp = new TempPipeline();
        using (var write = temp.Cache.BeginWrite("Stage", Key))
        {
            write.Commit("1.0", null, NoOutputs);
        }

        string other = new('b', 64);
        Directory.Move(temp.Cache.ArtifactDirectory("Stage", Key), temp.Cache.ArtifactDirectory("Stage", other));
        Assert.False(temp.Cache.TryGet("Stage", other, out _));
    }

    [Fact]
    public void Two_writers_of_one_key_exclude_each_other()
    {
        using var temp = new TempPipeline();
        using var first = temp.Cache.BeginWrite("Stage", Key);
        var error = Assert.Throws<SharpTuneException>(() => temp.Cache.BeginWrite("Stage", Key));
        Assert.Contains("another process is writing artifact aaaaaaaaaaaa", error.Message);
        Assert.True(Directory.Exists(first.PartialDirectory));
    }

    [Fact]
    public void Committing_again_replaces_the_artifact_and_removes_the_work_directory()
    {
        using var temp = new TempPipeline();
        foreach (string content in (string[])["one", "two"])
        {
            using var write = temp.Cache.BeginWrite("Stage", Key);
            File.WriteAllText(Path.Combine(write.PartialDirectory, "out.txt"), content);
            write.Commit("1.0", null, NoOutputs);
            Assert.False(Directory.Exists(write.WorkDirectory));
        }

        Assert.True(temp.Cache.TryGet("Stage", Key, out var artifact));
        Assert.Equal("two", File.ReadAllText(Path.Combine(artifact.Directory, "out.txt")));
        Assert.Single(Directory.GetDirectories(Path.Combine(temp.Cache.Root, "Stage")));
    }

    [Fact]
    public void Collect_keeps_what_it_is_told_and_deletes_other_artifacts_and_leftovers()
    {
        using var temp = new TempPipeline();
        string other = new('b', 64);
        foreach (string key in (string[])[Key, other])
        {
            using var write = temp.Cache.BeginWrite("Stage", key);
            File.WriteAllBytes(Path.Combine(write.PartialDirectory, "data"), new byte[1000]);
            write.Commit("1.0", null, NoOutputs);
        }

        Directory.CreateDirectory(temp.Cache.ArtifactDirectory("Stage", new string('c', 64)) + ".partial-1");
        var dry = temp.Cache.Collect(new HashSet<(string, string)> { ("Stage", Key) }, dryRun: true);
        Assert.Equal(2, dry.Removed.Count);
        Assert.Equal(2, temp.Cache.List().Count);

        var result = temp.Cache.Collect(new HashSet<(string, string)> { ("Stage", Key) }, dryRun: false);
        Assert.Equal(1, result.Kept);
        Assert.InRange(result.Bytes, 1000, 4000);             // the data file and its complete.json
        Assert.Equal(Key, Assert.Single(temp.Cache.List()).Key);
        Assert.Single(Directory.GetDirectories(Path.Combine(temp.Cache.Root, "Stage")));
    }

    [Fact]
    public void Canonical_json_ignores_key_order_and_number_spelling()
    {
        var a = new JsonObject { ["b"] = 2e-4, ["a"] = new JsonObject { ["y"] = 16, ["x"] = new JsonArray(1, "s") } };
        var b = JsonNode.Parse("{\"a\":{\"x\":[1.0,\"s\"],\"y\":16.0},\"b\":0.0002}")!.AsObject();
        Assert.Equal("{\"a\":{\"x\":[1,\"s\"],\"y\":16},\"b\":0.0002}", CanonicalJson.Serialize(a));
        Assert.Equal(CanonicalJson.Serialize(a), CanonicalJson.Serialize(b));
        var inputs = new Dictionary<string, ArtifactInput>();
        Assert.Equal(ArtifactKey.Compute("S", a, inputs, "1").Value, ArtifactKey.Compute("S", b, inputs, "1").Value);
        Assert.NotEqual(ArtifactKey.Compute("S", a, inputs, "1").Value, ArtifactKey.Compute("S", a, inputs, "2").Value);
        Assert.NotEqual(ArtifactKey.Compute("S", a, inputs, "1").Value, ArtifactKey.Compute("T", a, inputs, "1").Value);
        Assert.Matches("^[0-9a-f]{64}$", ArtifactKey.Compute("S", a, inputs, "1").Value);
    }

    [Fact]
    public void Directory_digest_depends_on_names_and_contents_not_on_location()
    {
        using var temp = new TempPipeline();
        string one = temp.PathOf("one");
        string two = temp.PathOf("two");
        foreach (string dir in (string[])[one, two])
        {
            Directory.CreateDirectory(Path.Combine(dir, "sub"));
            File.WriteAllText(Path.Combine(dir, "sub", "f.txt"), "x");
        }

        Assert.Equal(DirectoryDigest.Compute(one), DirectoryDigest.Compute(two));
        File.WriteAllText(Path.Combine(two, "sub", "f.txt"), "y");
        Assert.NotEqual(DirectoryDigest.Compute(one), DirectoryDigest.Compute(two));
        File.WriteAllText(Path.Combine(two, "sub", "f.txt"), "x");
        File.Move(Path.Combine(two, "sub", "f.txt"), Path.Combine(two, "sub", "g.txt"));
        Assert.NotEqual(DirectoryDigest.Compute(one), DirectoryDigest.Compute(two));
    }
}
