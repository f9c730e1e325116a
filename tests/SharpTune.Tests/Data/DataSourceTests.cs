using System.Text;
using Parquet;
using Parquet.Schema;
using SharpTune.Data.Mapping;
using SharpTune.Data.Sources;

namespace SharpTune.Tests.Data;

public sealed class DataSourceTests
{
    private static List<DataRecord> ReadAll(IDataSource source, bool skip = false) => source.Read(new BadRowPolicy(skip)).ToList();

    [Fact]
    public void Jsonl_rows_are_numbered_by_line_and_blank_lines_are_ignored()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("a.jsonl", "{\"q\":\"一\",\"n\":1}\r\n\n{\"q\":\"two\",\"meta\":{\"a\":{\"b\":\"deep\"}}}\n");
        var rows = ReadAll(DataSourceFactory.OpenFile(path));
        Assert.Equal([1L, 3L], rows.Select(r => r.RowNumber));
        Assert.Equal("一", FieldMapping.Identity.GetText(rows[0], "q"));
        Assert.Equal("1", FieldMapping.Identity.GetText(rows[0], "n"));
        Assert.Equal("deep", new FieldMapping(new Dictionary<string, string> { ["x"] = "meta.a.b" }).GetText(rows[1], "x"));
    }

    [Fact]
    public void Jsonl_errors_name_file_row_and_problem_and_can_be_skipped()
    {
        using var dir = new TempDirectory();
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"q\":\"ok\"}\n{\"q\": broken\n"));
        bytes.AddRange([(byte)'{', (byte)'"', (byte)'q', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}', (byte)'\n']);
        bytes.AddRange(Encoding.UTF8.GetBytes("[1,2]\n{\"q\":\"last\"}\n"));
        string path = dir.Write("bad.jsonl", bytes.ToArray());

        var error = Assert.Throws<BadRowException>(() => ReadAll(new JsonLinesSource(path)));
        Assert.StartsWith($"{path}: row 2: unparseable JSON", error.Message);

        var policy = new BadRowPolicy(skipBadRows: true);
        var rows = new JsonLinesSource(path).Read(policy, TestContext.Current.CancellationToken).ToList();
        Assert.Equal([1L, 5L], rows.Select(r => r.RowNumber));
        Assert.Equal(3, policy.Skipped);
        Assert.StartsWith($"{path}: row 3: invalid UTF-8", policy.Messages[1]);
        Assert.Equal($"{path}: row 4: not a JSON object", policy.Messages[2]);
    }

    [Fact]
    public void Field_errors_name_the_field_missing_wrong_type_or_empty()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("f.jsonl", "{\"a\":\"\",\"b\":[1],\"c\":null}\n");
        var row = ReadAll(new JsonLinesSource(path))[0];
        Assert.Equal($"{path}: row 1: field 'a': empty text", Assert.Throws<BadRowException>(() => FieldMapping.Identity.GetText(row, "a")).Message);
        Assert.Equal($"{path}: row 1: field 'b': expected text, found a JSON array", Assert.Throws<BadRowException>(() => FieldMapping.Identity.GetText(row, "b")).Message);
        Assert.Equal($"{path}: row 1: field 'c': missing", Assert.Throws<BadRowException>(() => FieldMapping.Identity.GetText(row, "c")).Message);
        Assert.Equal($"{path}: row 1: field 'x.y': missing", Assert.Throws<BadRowException>(() => new FieldMapping(new Dictionary<string, string> { ["z"] = "x.y" }).GetText(row, "z")).Message);
        Assert.Equal("", FieldMapping.Identity.GetText(row, "d", optional: true));
    }

    [Fact]
    public void Json_reads_an_array_or_an_object_with_data()
    {
        using var dir = new TempDirectory();
        Assert.Equal(2, ReadAll(DataSourceFactory.OpenFile(dir.Write("a.json", "[{\"q\":\"1\"},{\"q\":\"2\"}]"))).Count);
        var rows = ReadAll(DataSourceFactory.OpenFile(dir.Write("b.json", "{\"data\":[{\"q\":\"x\"}]}")));
        Assert.Equal("x", FieldMapping.Identity.GetText(rows[0], "q"));
        var error = Assert.Throws<SharpTuneException>(() => ReadAll(DataSourceFactory.OpenFile(dir.Write("c.json", "{\"rows\":1}"))));
        Assert.Contains("expected a JSON array of rows", error.Message);
    }

    [Fact]
    public void Csv_follows_rfc4180_with_quoted_commas_quotes_and_newlines()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("a.csv", "instruction,output\r\n\"Hello, \"\"world\"\"\",\"line 1\r\nline 2\"\r\n你好,答\r\n");
        var rows = ReadAll(DataSourceFactory.OpenFile(path));
        Assert.Equal(2, rows.Count);
        Assert.Equal("Hello, \"world\"", FieldMapping.Identity.GetText(rows[0], "instruction"));
        Assert.Equal("line 1\r\nline 2", FieldMapping.Identity.GetText(rows[0], "output"));
        Assert.Equal("答", FieldMapping.Identity.GetText(rows[1], "output"));
        Assert.Equal(2, rows[1].RowNumber);
    }

    [Fact]
    public void Csv_bad_rows_are_reported_with_their_row()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("bad.csv", "a,b\n1,2\n3\n4,5\n");
        var error = Assert.Throws<BadRowException>(() => ReadAll(new CsvSource(path)));
        Assert.Equal($"{path}: row 2: has 1 fields, the header has 2", error.Message);
        Assert.Equal(2, ReadAll(new CsvSource(path), skip: true).Count);
    }

    [Fact]
    public async Task Parquet_flat_columns_are_read_across_row_groups()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.parquet");
        var q = new DataField<string>("instruction");
        var n = new DataField<long?>("n");
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(q, n), stream, cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var (texts, numbers) in new[] { (new[] { "一", "two" }, new long?[] { 1, null }), (new[] { "three" }, new long?[] { 3 }) })
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(q, texts);
                await group.WriteAsync(n, new ReadOnlyMemory<long?>(numbers), cancellationToken: TestContext.Current.CancellationToken);
            }
        }

        var rows = ReadAll(DataSourceFactory.OpenFile(path));
        Assert.Equal(["一", "two", "three"], rows.Select(r => FieldMapping.Identity.GetText(r, "instruction")));
        Assert.Equal([1L, 2L, 3L], rows.Select(r => r.RowNumber));
        Assert.Equal("3", FieldMapping.Identity.GetText(rows[2], "n"));
        Assert.Equal($"{path}: row 2: field 'n': missing", Assert.Throws<BadRowException>(() => FieldMapping.Identity.GetText(rows[1], "n")).Message);
    }

    [Fact]
    public async Task A_hub_dataset_reads_its_parquet_files_in_order_with_continuous_row_numbers()
    {
        using var dir = new TempDirectory();
        var files = new List<string>();
        foreach (var (name, texts) in new[] { ("0000.parquet", new[] { "a", "b" }), ("0001.parquet", new[] { "c" }) })
        {
            var field = new DataField<string>("instruction");
            files.Add(dir.File(name));
            await using var stream = File.Create(dir.File(name));
            await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(field), stream, cancellationToken: TestContext.Current.CancellationToken);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(field, texts);
        }

        var reference = new HubDatasetReference("shibing624/medical", "finetune");
        HubDatasetReference? asked = null;
        var source = new RowRangeSource(new HubDatasetSource(reference, (r, _) => { asked = r; return Task.FromResult<IReadOnlyList<string>>(files); }), 0, 2);
        var rows = ReadAll(source);
        Assert.Equal(reference, asked);
        Assert.Equal(["a", "b"], rows.Select(r => FieldMapping.Identity.GetText(r, "instruction")));
        var all = ReadAll(new HubDatasetSource(reference, (_, _) => Task.FromResult<IReadOnlyList<string>>(files)));
        Assert.Equal([1L, 2L, 3L], all.Select(r => r.RowNumber));
        Assert.All(all, r => Assert.Equal("hf://shibing624/medical:finetune split train", r.Source));
    }

    [Fact]
    public void Row_range_takes_a_window_and_hub_references_parse()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("a.jsonl", string.Join("\n", Enumerable.Range(0, 10).Select(i => $"{{\"i\":\"{i}\"}}")));
        var rows = ReadAll(new RowRangeSource(new JsonLinesSource(path), 2, 3));
        Assert.Equal(["2", "3", "4"], rows.Select(r => FieldMapping.Identity.GetText(r, "i")));

        Assert.True(HubDatasetReference.TryParse("hf://shibing624/medical:finetune@main", out var hub));
        Assert.Equal(("shibing624/medical", "finetune", "main", "train"), (hub.DatasetId, hub.Config, hub.Revision, hub.Split));
        Assert.False(HubDatasetReference.TryParse("datasets/medical/train.jsonl", out _));
    }

    [Fact]
    public void Conversations_read_openai_messages_and_sharegpt()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("c.jsonl",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n" +
            "{\"conversations\":[{\"from\":\"human\",\"value\":\"q\"},{\"from\":\"gpt\",\"value\":\"a\"}]}\n" +
            "{\"conversations\":[{\"from\":\"robot\",\"value\":\"q\"}]}\n");
        var rows = ReadAll(new JsonLinesSource(path));
        var reader = new ConversationReader();
        Assert.Equal([new("user", "hi"), new("assistant", "yo")], reader.Read(rows[0]));
        Assert.Equal([new("user", "q"), new("assistant", "a")], reader.Read(rows[1]));
        Assert.Equal($"{path}: row 3: field 'conversations.0.from': unknown speaker 'robot'", Assert.Throws<BadRowException>(() => reader.Read(rows[2])).Message);
    }
}
