namespace SharpTune.Tests.Gguf;

/// <summary>
/// A plain, slow, double-accumulating forward pass with Hugging Face's semantics (LlamaForCausalLM, Qwen2, Qwen3:
/// RMSNorm, rotate-half rope with llama3 frequency scaling, GQA causal attention, q/k biases and q/k norms, SwiGLU),
/// written from the transformers modelling code's definitions, independent of the exporter. It is the reference
/// llama.cpp's logits are compared with.
/// </summary>
internal sealed class HfReferenceDecoder(TinyHfModel model, IReadOnlyDictionary<string, float[]> weights)
{
    private float[] W(string name) => weights[name];

    public static HfReferenceDecoder FromModel(TinyHfModel model) =>
        new(model, model.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Values));

    /// <summary>Logits of every position.</summary>
    public float[][] Forward(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count, d = model.Hidden, hd = model.HeadDimension, heads = model.Heads, kvHeads = model.KvHeads;
        var x = new double[n][];
        var embed = W("model.embed_tokens.weight");
        for (int t = 0; t < n; t++)
        {
            x[t] = embed.AsSpan(tokens[t] * d, d).ToArray().Select(v => (double)v).ToArray();
        }

        var invFreq = InverseFrequencies();
        for (int l = 0; l < model.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            var h = x.Select(v => RmsNorm(v, W(p + "input_layernorm.weight"))).ToArray();
            var q = h.Select(v => Linear(v, W(p + "self_attn.q_proj.weight"), heads * hd, weights.GetValueOrDefault(p + "self_attn.q_proj.bias"))).ToArray();
            var k = h.Select(v => Linear(v, W(p + "self_attn.k_proj.weight"), kvHeads * hd, weights.GetValueOrDefault(p + "self_attn.k_proj.bias"))).ToArray();
            var val = h.Select(v => Linear(v, W(p + "self_attn.v_proj.weight"), kvHeads * hd, weights.GetValueOrDefault(p + "self_attn.v_proj.bias"))).ToArray();
            for (int t = 0; t < n; t++)
            {
                for (int head = 0; head < heads; head++)
                {
                    var qh = q[t].AsSpan(head * hd, hd);
                    if (model.QkNorm)
                    {
                        RmsNorm(qh.ToArray(), W(p + "self_attn.q_norm.weight")).CopyTo(qh);
                    }

                    Rope(qh, t, invFreq);
                }

                for (int head = 0; head < kvHeads; head++)
                {
                    var kh = k[t].AsSpan(head * hd, hd);
                    if (model.QkNorm)
                    {
                        RmsNorm(kh.ToArray(), W(p + "self_attn.k_norm.weight")).CopyTo(kh);
                    }

                    Rope(kh, t, invFreq);
                }
            }

            var attn = new double[n][];
            for (int t = 0; t < n; t++)
            {
                attn[t] = new double[heads * hd];
                for (int head = 0; head < heads; head++)
                {
                    int kvHead = head / (heads / kvHeads);
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++)
                        {
                            dot += q[t][head * hd + i] * k[s][kvHead * hd + i];
                        }

                        scores[s] = dot / Math.Sqrt(hd);
                    }

                    double max = scores.Max();
                    var e = scores.Select(sc => Math.Exp(sc - max)).ToArray();
                    double sum = e.Sum();
                    for (int s = 0; s <= t; s++)
                    {
                        for (int i = 0; i < hd; i++)
                        {
                            attn[t][head * hd + i] += e[s] / sum * val[s][kvHead * hd + i];
                        }
                    }
                }

                var o = Linear(attn[t], W(p + "self_attn.o_proj.weight"), d, null);
                for (int i = 0; i < d; i++)
                {
                    x[t][i] += o[i];
                }

                var h2 = RmsNorm(x[t], W(p + "post_attention_layernorm.weight"));
                var gate = Linear(h2, W(p + "mlp.gate_proj.weight"), model.Intermediate, null);
                var up = Linear(h2, W(p + "mlp.up_proj.weight"), model.Intermediate, null);
                var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                var down = Linear(act, W(p + "mlp.down_proj.weight"), d, null);
                for (int i = 0; i < d; i++)
                {
                    x[t][i] += down[i];
                }
            }
        }

        var head_ = weights.GetValueOrDefault("lm_head.weight") ?? embed;
        return x.Select(v => Linear(RmsNorm(v, W("model.norm.weight")), head_, model.VocabSize, null).Select(z => (float)z).ToArray()).ToArray();
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> by <paramref name="steps"/> tokens.</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int steps)
    {
        var tokens = prompt.ToList();
        var generated = new List<int>();
        for (int s = 0; s < steps; s++)
        {
            var logits = Forward(tokens)[^1];
            int next = Array.IndexOf(logits, logits.Max());
            generated.Add(next);
            tokens.Add(next);
        }

        return generated;
    }

    private double[] InverseFrequencies()
    {
        int hd = model.HeadDimension;
        var inv = new double[hd / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = 1.0 / Math.Pow(model.RopeTheta, 2.0 * i / hd);
            if (model.Llama3Rope)
            {
                // transformers' _compute_llama3_parameters with factor 8, low 1, high 4, original context 64.
                double factor = 8, low = 1, high = 4, original = 64;
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > original / low)
                {
                    inv[i] /= factor;
                }
                else if (wavelen >= original / high)
                {
                    double smooth = (original / wavelen - low) / (high - low);
                    inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                }
            }
        }

        return inv;
    }

    /// <summary>Rotate-half rope: pair (i, i + hd/2).</summary>
    private static void Rope(Span<double> v, int position, double[] invFreq)
    {
        int half = v.Length / 2;
        for (int i = 0; i < half; i++)
        {
            double angle = position * invFreq[i];
            double cos = Math.Cos(angle), sin = Math.Sin(angle);
            double a = v[i], b = v[i + half];
            v[i] = a * cos - b * sin;
            v[i + half] = b * cos + a * sin;
        }
    }

    private static double[] RmsNorm(double[] v, float[] weight)
    {
        double ms = v.Average(z => z * z);
        double scale = 1 / Math.Sqrt(ms + TinyHfModel.RmsNormEps);
        return v.Select((z, i) => z * scale * weight[i]).ToArray();
    }

    private static double[] Linear(double[] input, float[] weight, int outFeatures, float[]? bias)
    {
        int inFeatures = input.Length;
        var output = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            double acc = bias?[o] ?? 0;
            var row = weight.AsSpan(o * inFeatures, inFeatures);
            for (int i = 0; i < inFeatures; i++)
            {
                acc += row[i] * input[i];
            }

            output[o] = acc;
        }

        return output;
    }
}
