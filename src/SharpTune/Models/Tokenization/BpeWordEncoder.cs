using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace SharpTune.Models.Tokenization;

/// <summary>
/// Encodes one pre-tokenized word with the BPE merges of a <c>tokenizer.json</c> model. The merge loop itself is
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (a port of Hugging Face's); this type adds the two model
/// options that library does not have: <c>ignore_merges</c> (a word found whole in the vocabulary is one token, as
/// Llama 3 requires) and <c>byte_fallback</c> (a character missing from the vocabulary becomes its UTF-8 bytes as
/// &lt;0xXX&gt; tokens, as Llama 2 and Mistral require).
/// </summary>
internal sealed class BpeWordEncoder
{
    private const int MaxCachedWordLength = 64;

    private readonly BpeTokenizer _merger;
    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly bool _ignoreMerges;
    private readonly bool _byteFallback;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;
    private readonly int[]? _byteTokenIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public BpeWordEncoder(
        IReadOnlyDictionary<string, int> vocabulary,
        IReadOnlyList<string> merges,
        bool ignoreMerges,
        bool byteFallback,
        string? unknownToken,
        bool fuseUnknown)
    {
        _vocabulary = vocabulary;
        _ignoreMerges = ignoreMerges;
        _byteFallback = byteFallback;
        _fuseUnknown = fuseUnknown;
        _unknownId = unknownToken is not null && vocabulary.TryGetValue(unknownToken, out int unk) ? unk : null;
        _merger = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = false,
            PreTokenizer = null,
            Normalizer = null,
            UnknownToken = null,
        });
        if (byteFallback)
        {
            _byteTokenIds = new int[256];
            for (int b = 0; b < 256; b++)
            {
                string name = "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";
                _byteTokenIds[b] = vocabulary.TryGetValue(name, out int id) ? id : -1;
            }
        }
    }

    public void Encode(string word, List<int> output)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (_ignoreMerges && _vocabulary.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }

        if (word.Length <= MaxCachedWordLength)
        {
            output.AddRange(_cache.GetOrAdd(word, w =>
            {
                var ids = new List<int>();
                EncodeUncached(w, ids);
                return ids.ToArray();
            }));
            return;
        }

        EncodeUncached(word, output);
    }

    private void EncodeUncached(string word, List<int> output)
    {
        // Runs of characters the vocabulary knows go through the merges; each unknown character falls back to bytes
        // (or the unknown token). No merge involves a byte or unknown token, so the runs merge independently.
        int runStart = 0;
        int i = 0;
        bool lastWasUnknown = false;
        while (i < word.Length)
        {
            int length = char.IsSurrogatePair(word, i) ? 2 : 1;
            if (_vocabulary.ContainsKey(word.Substring(i, length)))
            {
                i += length;
                continue;
            }

            MergeRun(word, runStart, i - runStart, output);
            if (i > runStart)
            {
                lastWasUnknown = false;
            }

            lastWasUnknown = EmitUnknown(word.AsSpan(i, length), output, lastWasUnknown);
            i += length;
            runStart = i;
        }

        MergeRun(word, runStart, word.Length - runStart, output);
    }

    private void MergeRun(string word, int start, int length, List<int> output)
    {
        if (length == 0)
        {
            return;
        }

        string run = start == 0 && length == word.Length ? word : word.Substring(start, length);
        output.AddRange(_merger.EncodeToIds(run, considerPreTokenization: false, considerNormalization: false));
    }

    private bool EmitUnknown(ReadOnlySpan<char> character, List<int> output, bool lastWasUnknown)
    {
        if (_byteFallback && _byteTokenIds is not null)
        {
            Span<byte> bytes = stackalloc byte[4];
            int count = Encoding.UTF8.GetBytes(character, bytes);
            bool all = true;
            for (int b = 0; b < count; b++)
            {
                all &= _byteTokenIds[bytes[b]] >= 0;
            }

            if (all)
            {
                for (int b = 0; b < count; b++)
                {
                    output.Add(_byteTokenIds[bytes[b]]);
                }

                return false;
            }
        }

        if (_unknownId is not int unknown)
        {
            throw new SharpTuneException($"the tokenizer has no token for the character U+{char.ConvertToUtf32(character.ToString(), 0):X4} and no unknown token");
        }

        if (!(_fuseUnknown && lastWasUnknown))
        {
            output.Add(unknown);
        }

        return true;
    }
}
