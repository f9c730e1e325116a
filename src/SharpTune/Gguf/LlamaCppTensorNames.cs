using System.Globalization;

namespace SharpTune.Gguf;

/// <summary>
/// The one table of tensor names: Hugging Face Llama-family names to llama.cpp's (gguf-py's tensor_mapping.py), in
/// the order the exporter writes them.
/// </summary>
public static class LlamaCppTensorNames
{
    private const string LayerPrefix = "model.layers.";

    private static readonly (string Hf, string Gguf)[] Globals =
    [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];

    private static readonly (string Hf, string Gguf)[] LayerTensors =
    [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.v_proj.bias", "attn_v.bias"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.o_proj.bias", "attn_output.bias"),
        ("self_attn.q_norm.weight", "attn_q_norm.weight"),
        ("self_attn.k_norm.weight", "attn_k_norm.weight"),
        ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
    ];

    /// <summary>Checkpoint entries that carry no weights llama.cpp needs (recomputed buffers).</summary>
    private static readonly string[] IgnoredSuffixes = ["rotary_emb.inv_freq"];

    /// <summary>The llama.cpp name of a Hugging Face tensor, or null when it is a buffer to leave out.</summary>
    public static string? ToGguf(string hfName)
    {
        if (IgnoredSuffixes.Any(hfName.EndsWith))
        {
            return null;
        }

        foreach (var (hf, gguf) in Globals)
        {
            if (hfName == hf)
            {
                return gguf;
            }
        }

        if (hfName.StartsWith(LayerPrefix, StringComparison.Ordinal))
        {
            int dot = hfName.IndexOf('.', LayerPrefix.Length);
            if (dot > 0 && int.TryParse(hfName.AsSpan(LayerPrefix.Length, dot - LayerPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
            {
                string rest = hfName[(dot + 1)..];
                foreach (var (hf, gguf) in LayerTensors)
                {
                    if (rest == hf)
                    {
                        return $"blk.{layer}.{gguf}";
                    }
                }
            }
        }

        throw new SharpTuneException($"tensor '{hfName}' has no llama.cpp name; GGUF export knows Llama-family decoder weights only");
    }

    /// <summary>Sort key of a llama.cpp name: embeddings, then layer by layer in table order, then output.</summary>
    public static (int Group, int Layer, int Index) Order(string ggufName)
    {
        for (int i = 0; i < Globals.Length; i++)
        {
            if (ggufName == Globals[i].Gguf)
            {
                return (i == 0 ? 0 : 3, 0, i);
            }
        }

        if (ggufName == "rope_freqs.weight")
        {
            return (1, 0, 0);
        }

        if (TryLayer(ggufName, out int layer, out string suffix))
        {
            int index = Array.FindIndex(LayerTensors, t => t.Gguf == suffix);
            return (2, layer, index);
        }

        return (4, 0, 0);
    }

    /// <summary>Splits "blk.N.suffix" into N and suffix.</summary>
    public static bool TryLayer(string ggufName, out int layer, out string suffix)
    {
        layer = -1;
        suffix = ggufName;
        if (!ggufName.StartsWith("blk.", StringComparison.Ordinal))
        {
            return false;
        }

        int dot = ggufName.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(ggufName.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out layer))
        {
            return false;
        }

        suffix = ggufName[(dot + 1)..];
        return true;
    }
}
