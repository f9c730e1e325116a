using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// Writes a tokenized dataset into a temporary directory beside <c>directory</c> and renames it into place on
/// <see cref="Complete"/>; disposing without completing deletes the temporary directory, so nothing partial is left.
/// </summary>
public sealed class TokenizedDatasetWriter : IDisposable
{
    private readonly string _directory;
    private readonly string _temp;
    private readonly int _shardRows;
    private readonly List<TokenizedSample> _pending = [];
    private readonly List<TokenizedShardInfo> _shards = [];
    private long _rows;
    private long _tokens;
    private bool _completed;

    public TokenizedDatasetWriter(string directory, int shardRows = 16384)
    {
        _directory = Path.GetFullPath(directory);
        _shardRows = shardRows;
        string parent = Path.GetDirectoryName(_directory)!;
        Directory.CreateDirectory(parent);
        _temp = Path.Combine(parent, $".{Path.GetFileName(_directory)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_temp);
    }

    public long Rows => _rows;

    public void Add(TokenizedSample sample)
    {
        _pending.Add(sample);
        _rows++;
        _tokens += sample.Length;
        if (_pending.Count >= _shardRows)
        {
            Flush();
        }
    }

    /// <summary>Writes the last shard, the manifest and <paramref name="statistics"/>, then moves the directory into place.</summary>
    public TokenizedDatasetManifest Complete(string key, int maxLength, string template, string tokenizer, string source, DatasetStatistics statistics)
    {
        Flush();
        string contentHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", _shards.Select(s => s.Sha256)))));
        var manifest = new TokenizedDatasetManifest(TokenizedDatasetManifest.CurrentFormat, key, contentHash, _rows, _tokens, maxLength, template, tokenizer, source, _shards);
        File.WriteAllText(Path.Combine(_temp, DatasetStatistics.FileName), statistics.ToJson());
        File.WriteAllText(Path.Combine(_temp, TokenizedDatasetManifest.FileName), JsonSerializer.Serialize(manifest, TokenizedDatasetManifest.Json));
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        Directory.Move(_temp, _directory);
        _completed = true;
        return manifest;
    }

    public void Dispose()
    {
        if (!_completed && Directory.Exists(_temp))
        {
            Directory.Delete(_temp, recursive: true);
        }
    }

    private void Flush()
    {
        if (_pending.Count == 0 && _shards.Count > 0)
        {
            return;
        }

        string name = $"shard-{_shards.Count:D5}.bin";
        string path = Path.Combine(_temp, name);
        TokenizedShard.Write(path, _pending);
        string sha;
        using (var stream = File.OpenRead(path))
        {
            sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        _shards.Add(new TokenizedShardInfo(name, _pending.Count, _pending.Sum(s => (long)s.Length), sha));
        _pending.Clear();
    }
}
