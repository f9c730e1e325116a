using System.Security.Cryptography;

namespace SharpTune.Data.Tokenized;

/// <summary>
/// A tokenized dataset directory (made by <see cref="TokenizedDatasetBuilder"/>): <see cref="Count"/> samples, each
/// token ids plus completion mask, read from its shards on first use.
/// </summary>
public sealed class TokenizedDataset
{
    private readonly string _directory;
    private readonly long[] _shardStarts;
    private readonly Lazy<TokenizedSample[]>[] _shards;

    private TokenizedDataset(string directory, TokenizedDatasetManifest manifest)
    {
        _directory = directory;
        Manifest = manifest;
        _shardStarts = new long[manifest.Shards.Count + 1];
        for (int i = 0; i < manifest.Shards.Count; i++)
        {
            _shardStarts[i + 1] = _shardStarts[i] + manifest.Shards[i].Rows;
        }

        _shards = manifest.Shards.Select(s => new Lazy<TokenizedSample[]>(() => LoadShard(s))).ToArray();
    }

    public TokenizedDatasetManifest Manifest { get; }

    public int Count => checked((int)Manifest.Rows);

    public TokenizedSample this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            int shard = Array.BinarySearch(_shardStarts, (long)index);
            if (shard < 0)
            {
                shard = ~shard - 1;
            }

            while (shard + 1 < _shardStarts.Length && _shardStarts[shard + 1] <= index)
            {
                shard++;
            }

            return _shards[shard].Value[index - _shardStarts[shard]];
        }
    }

    public static TokenizedDataset Open(string directory)
    {
        var manifest = TokenizedDatasetManifest.Read(directory);
        foreach (var shard in manifest.Shards)
        {
            if (!File.Exists(Path.Combine(directory, shard.File)))
            {
                throw new SharpTuneException($"{Path.Combine(directory, shard.File)}: shard listed in the manifest is missing");
            }
        }

        return new TokenizedDataset(directory, manifest);
    }

    /// <summary>Checks every shard against its SHA-256 in the manifest.</summary>
    public void Verify()
    {
        foreach (var shard in Manifest.Shards)
        {
            string path = Path.Combine(_directory, shard.File);
            using var stream = File.OpenRead(path);
            if (Convert.ToHexStringLower(SHA256.HashData(stream)) != shard.Sha256)
            {
                throw new SharpTuneException($"{path}: content does not match the manifest's SHA-256");
            }
        }
    }

    private TokenizedSample[] LoadShard(TokenizedShardInfo shard)
    {
        var samples = TokenizedShard.Read(Path.Combine(_directory, shard.File));
        if (samples.Length != shard.Rows)
        {
            throw new SharpTuneException($"{Path.Combine(_directory, shard.File)}: has {samples.Length} samples, the manifest says {shard.Rows}");
        }

        return samples;
    }
}
