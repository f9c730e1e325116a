using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

/// <summary>
/// A plain float64 transcription of the Hugging Face Llama/Mistral/Qwen2/Qwen3 forward pass, written from the
/// transformers formulas with explicit per-head attention (no SDPA, no KV cache, no masks module), from the
/// state_dict alone: the independent reference the engine's decoder is checked against on the CPU.
/// </summary>
internal static class ReferenceDecoder
{
    public static Tensor Logits(ModelConfig config, IReadOnlyDictionary<string, Tensor> weights, long[] ids)
    {
        using var scope = NewDisposeScope();
        Tensor W(string name) => weights[name].to(ScalarType.Float64);
        Tensor? B(string name) => weights.TryGetValue(name, out var b) ? b.to(ScalarType.Float64) : null;
        Tensor Rms(Tensor x, Tensor w) => w * (x / (x.pow(2).mean([-1L], keepdim: true) + config.RmsNormEps).sqrt());
        Tensor Linear(Tensor x, string prefix) => B(prefix + ".bias") is { } bias ? x.matmul(W(prefix + ".weight").t()) + bias : x.matmul(W(prefix + ".weight").t());

        int seq = ids.Length;
        int hd = config.HeadDim;
        var h = W("model.embed_tokens.weight").index_select(0, tensor(ids));
        var inv = InverseFrequencies(config);
        var angles = arange(seq, ScalarType.Float64).unsqueeze(1) * tensor(inv).unsqueeze(0);
        var cos = cat([angles, angles], 1).cos();
        var sin = cat([angles, angles], 1).sin();
        Tensor Rope(Tensor x) => x * cos + cat([-x.narrow(-1, hd / 2, hd / 2), x.narrow(-1, 0, hd / 2)], -1) * sin;

        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var x = Rms(h, W(p + "input_layernorm.weight"));
            var q = Linear(x, p + "self_attn.q_proj");
            var k = Linear(x, p + "self_attn.k_proj");
            var v = Linear(x, p + "self_attn.v_proj");
            var heads = new List<Tensor>();
            for (int head = 0; head < config.NumAttentionHeads; head++)
            {
                int kvHead = head / (config.NumAttentionHeads / config.NumKeyValueHeads);
                var qh = q.narrow(1, head * hd, hd);
                var kh = k.narrow(1, kvHead * hd, hd);
                var vh = v.narrow(1, kvHead * hd, hd);
                if (config.QkNorm)
                {
                    qh = Rms(qh, W(p + "self_attn.q_norm.weight"));
                    kh = Rms(kh, W(p + "self_attn.k_norm.weight"));
                }

                var scores = Rope(qh).matmul(Rope(kh).t()) / Math.Sqrt(hd);
                var allowed = new bool[seq * seq];
                for (int i = 0; i < seq; i++)
                {
                    for (int j = 0; j < seq; j++)
                    {
                        allowed[i * seq + j] = j <= i && (config.SlidingWindow is not { } w || i - j < w);
                    }
                }

                scores = scores.masked_fill(tensor(allowed, [seq, seq]).logical_not(), double.NegativeInfinity);
                var weightsOfKeys = scores.exp() / scores.exp().sum(1, keepdim: true);
                heads.Add(weightsOfKeys.matmul(vh));
            }

            h = h + Linear(cat(heads, 1), p + "self_attn.o_proj");
            x = Rms(h, W(p + "post_attention_layernorm.weight"));
            var gate = Linear(x, p + "mlp.gate_proj");
            h = h + Linear(gate * gate.sigmoid() * Linear(x, p + "mlp.up_proj"), p + "mlp.down_proj");
        }

        h = Rms(h, W("model.norm.weight"));
        var head_ = weights.ContainsKey("lm_head.weight") ? W("lm_head.weight") : W("model.embed_tokens.weight");
        return h.matmul(head_.t()).MoveToOuterDisposeScope();
    }

    /// <summary>inv_freq in double precision, with the Llama 3.1 rescaling written out per frequency.</summary>
    public static double[] InverseFrequencies(ModelConfig config)
    {
        var rope = config.Rope;
        int hd = config.HeadDim;
        var result = new double[hd / 2];
        for (int i = 0; i < hd / 2; i++)
        {
            double f = 1.0 / Math.Pow(rope.Theta, 2.0 * i / hd);
            if (rope.Type == RopeScaling.Llama3)
            {
                double wavelength = 2 * Math.PI / f;
                double low = rope.OriginalMaxPositionEmbeddings / rope.LowFreqFactor;
                double high = rope.OriginalMaxPositionEmbeddings / rope.HighFreqFactor;
                if (wavelength > low)
                {
                    f /= rope.Factor;
                }
                else if (wavelength >= high)
                {
                    double smooth = (rope.OriginalMaxPositionEmbeddings / wavelength - rope.LowFreqFactor) / (rope.HighFreqFactor - rope.LowFreqFactor);
                    f = (1 - smooth) * f / rope.Factor + smooth * f;
                }
            }

            result[i] = f;
        }

        return result;
    }
}
