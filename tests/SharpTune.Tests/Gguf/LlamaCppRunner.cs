using LLama;
using LLama.Common;
using LLama.Native;

namespace SharpTune.Tests.Gguf;

/// <summary>llama.cpp (through LLamaSharp's CPU backend) as the oracle: loads a GGUF file and returns next-token logits.</summary>
internal sealed class LlamaCppRunner : IDisposable
{
    private static readonly Lock ConfigureGate = new();
    private static bool _configured;
    private readonly LLamaWeights _weights;
    private readonly ModelParams _parameters;

    public LlamaCppRunner(string ggufPath)
    {
        Configure();
        _parameters = new ModelParams(ggufPath)
        {
            ContextSize = 128, GpuLayerCount = 0, Threads = 2, BatchSize = 128,
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, // keep the KV cache exact: compare weights, not cache rounding
            FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(_parameters);
    }

    public static void Configure()
    {
        lock (ConfigureGate)
        {
            if (!_configured)
            {
                NativeLibraryConfig.All.WithLogCallback((level, message) => { });
                NativeApi.llama_empty_call(); // loads libllama and registers LLamaSharp's resolver before any direct call
                _configured = true;
            }
        }
    }

    public int VocabularySize => _weights.Vocab.Count;

    /// <summary>Logits after the last of <paramref name="tokens"/>.</summary>
    public float[] NextTokenLogits(IReadOnlyList<int> tokens)
    {
        using var context = _weights.CreateContext(_parameters);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
        {
            batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Count - 1);
        }

        var result = context.Decode(batch);
        Assert.Equal(DecodeResult.Ok, result);
        return context.NativeHandle.GetLogitsIth(tokens.Count - 1).ToArray();
    }

    /// <summary>Greedy continuation, feeding each argmax back one token at a time.</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int steps)
    {
        using var context = _weights.CreateContext(_parameters);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++)
        {
            batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
        }

        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var generated = new List<int>();
        int position = prompt.Count;
        for (int s = 0; s < steps; s++)
        {
            var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
            int next = Array.IndexOf(logits, logits.Max());
            generated.Add(next);
            batch.Clear();
            batch.Add(next, position++, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        }

        return generated;
    }

    /// <summary>llama.cpp's tokenization of <paramref name="text"/>.</summary>
    public int[] Tokenize(string text, bool addBos)
    {
        using var context = _weights.CreateContext(_parameters);
        return context.Tokenize(text, addBos, special: true).Select(t => (int)t).ToArray();
    }

    public void Dispose() => _weights.Dispose();
}
