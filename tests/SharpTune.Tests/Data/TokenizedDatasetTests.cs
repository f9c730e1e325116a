using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;
using SharpTune.Data.Templates;
using SharpTune.Data.Tokenized;
using SharpTune.Tests.Tokenization;

namespace SharpTune.Tests.Data;

public sealed class TokenizedDatasetTests
{
    private static string MedicalTrain => Path.Combine(RepositoryPaths.Root, "datasets", "medical", "train.jsonl");

    [Theory]
    [InlineData("llama3")]
    [InlineData("llama2")]
    [InlineData("qwen3")]
    public void The_completion_mask_covers_exactly_the_answer_and_eos(string name)
    {
        var tokenizer = TokenizerFiles.Load(name);
        var row = new JsonLinesSource(MedicalTrain).Read(new BadRowPolicy(false), TestContext.Current.CancellationToken).First();
        var rendered = InstructionTemplate.MedicalChainOfThought.Render(row, FieldMapping.Identity);
        var (sample, truncated) = new SampleTokenizer(tokenizer, 4096).Tokenize(rendered);
        Assert.False(truncated);
        Assert.Equal(tokenizer.TokenToId(tokenizer.EosToken), sample.InputIds[^1]);
        int first = Array.IndexOf(sample.CompletionMask, (byte)1);
        Assert.True(first > 0);
        Assert.All(sample.CompletionMask[first..], m => Assert.Equal(1, m)); // one answer span, to the end
        Assert.Equal(rendered.PromptText, tokenizer.Decode(sample.InputIds[..first]));
        string completion = Assert.Single(rendered.Segments, s => s.IsCompletion).Text;
        Assert.Equal(completion, tokenizer.Decode(sample.InputIds[first..])); // EOS is special, so decoding skips it
        Assert.Equal(tokenizer.Encode(rendered.Text), sample.InputIds[..^1]); // one encoding of the whole text

        var (cut, wasCut) = new SampleTokenizer(tokenizer, 50).Tokenize(rendered);
        Assert.True(wasCut);
        Assert.Equal(sample.InputIds[..50], cut.InputIds);
    }

    [Fact]
    public void Build_writes_shards_manifest_and_stats_then_reuses_them_when_nothing_changed()
    {
        var tokenizer = TokenizerFiles.Load("qwen3");
        using var dir = new TempDirectory();
        DatasetFormatOptions Options(int maxLength) => new(
            new RowRangeSource(new JsonLinesSource(MedicalTrain), 0, 200), TokenizedDatasetBuilder.FingerprintFile(MedicalTrain) + "|0|200",
            InstructionTemplate.MedicalChainOfThought, tokenizer, TokenizerFiles.Directory("qwen3"), dir.File("cache"), maxLength);

        var built = TokenizedDatasetBuilder.Build(Options(2048), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(built.Reused);
        Assert.Equal(200, built.Statistics.Rows);
        Assert.Equal(0, built.Statistics.Truncated);

        var dataset = TokenizedDataset.Open(dir.File("cache"));
        dataset.Verify();
        Assert.Equal(200, dataset.Count);
        Assert.Equal(built.Statistics.Tokens, Enumerable.Range(0, dataset.Count).Sum(i => (long)dataset[i].Length));
        var row = new JsonLinesSource(MedicalTrain).Read(new BadRowPolicy(false), TestContext.Current.CancellationToken).ElementAt(199);
        var direct = new SampleTokenizer(tokenizer, 2048).Tokenize(InstructionTemplate.MedicalChainOfThought.Render(row, FieldMapping.Identity)).Sample;
        Assert.Equal(direct.InputIds, dataset[199].InputIds);
        Assert.Equal(direct.CompletionMask, dataset[199].CompletionMask);
        Assert.True(File.Exists(Path.Combine(dir.File("cache"), "stats.json")));

        Assert.True(TokenizedDatasetBuilder.Build(Options(2048), cancellationToken: TestContext.Current.CancellationToken).Reused);
        var shorter = TokenizedDatasetBuilder.Build(Options(64), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(shorter.Reused);
        Assert.Equal(200, shorter.Statistics.Truncated);
        Assert.Equal(64, TokenizedDataset.Open(dir.File("cache"))[0].Length);
        Assert.Single(Directory.GetFileSystemEntries(dir.Path)); // no temporary directories left beside it
    }

    [Fact]
    public void A_bad_row_stops_the_build_and_leaves_nothing_or_is_counted_with_skip_bad_rows()
    {
        var tokenizer = TokenizerFiles.Load("llama3");
        using var dir = new TempDirectory();
        string source = dir.Write("rows.jsonl", "{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"a\"}\n{\"instruction\":\"q\",\"input\":\"r\"}\n{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"a2\"}\n");
        DatasetFormatOptions Options(bool skip) => new(new JsonLinesSource(source), TokenizedDatasetBuilder.FingerprintFile(source),
            InstructionTemplate.MedicalChainOfThought, tokenizer, TokenizerFiles.Directory("llama3"), dir.File("out"), SkipBadRows: skip);

        var error = Assert.Throws<BadRowException>(() => TokenizedDatasetBuilder.Build(Options(false), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal($"{source}: row 2: field 'output': missing", error.Message);
        Assert.Equal([source], Directory.GetFileSystemEntries(dir.Path)); // nothing partial

        var result = TokenizedDatasetBuilder.Build(Options(true), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2, result.Statistics.Rows);
        Assert.Equal(1, result.Statistics.SkippedBadRows);
        Assert.Equal([error.Message], result.Statistics.BadRowMessages);
    }

    [Fact]
    public void A_corrupted_shard_fails_verification_and_reading()
    {
        var tokenizer = TokenizerFiles.Load("llama3");
        using var dir = new TempDirectory();
        string source = dir.Write("rows.jsonl", "{\"instruction\":\"q\",\"input\":\"r\",\"output\":\"a\"}\n");
        TokenizedDatasetBuilder.Build(new DatasetFormatOptions(new JsonLinesSource(source), "x", InstructionTemplate.MedicalChainOfThought, tokenizer,
            TokenizerFiles.Directory("llama3"), dir.File("out")), cancellationToken: TestContext.Current.CancellationToken);
        string shard = Path.Combine(dir.File("out"), "shard-00000.bin");
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^3]);
        var dataset = TokenizedDataset.Open(dir.File("out"));
        Assert.Contains("does not match the manifest", Assert.Throws<SharpTuneException>(dataset.Verify).Message);
        Assert.Contains("truncated or corrupt", Assert.Throws<SharpTuneException>(() => dataset[0]).Message);
    }
}
