namespace SharpTune.Gguf;

/// <summary>
/// Chooses each tensor's type the way llama.cpp does (convert_hf_to_gguf.py for F32/F16/BF16, llama-quantize's
/// llama_tensor_get_type for the quantized file types, without an importance matrix): 1-D tensors and norms stay
/// F32; the output head (and the token embedding when it is tied to the output) gets Q6_K in K-quant and Q4_0 files;
/// Q4_K_M/Q5_K_M give attn_v and ffn_down Q6_K in the layers <see cref="UseMoreBits"/> picks; rows whose length does
/// not divide the block size fall back to a type whose block fits (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, else F16).
/// </summary>
public static class LlamaCppQuantizationPolicy
{
    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layerCount) =>
        layer < layerCount / 8 || layer >= 7 * layerCount / 8 || (layer - layerCount / 8) % 3 == 2;

    /// <param name="ggufName">llama.cpp tensor name, e.g. blk.3.attn_v.weight.</param>
    /// <param name="dimensions">ggml order, row length first.</param>
    /// <param name="layerCount">The model's block count.</param>
    /// <param name="hasOutputTensor">False when the output head is tied to token_embd.</param>
    public static GgmlType TensorType(string ggufName, IReadOnlyList<long> dimensions, GgufFileType fileType, int layerCount, bool hasOutputTensor)
    {
        if (dimensions.Count < 2 || !ggufName.EndsWith("weight", StringComparison.Ordinal) || ggufName.Contains("_norm.weight", StringComparison.Ordinal))
        {
            return GgmlType.F32;
        }

        var type = fileType.DefaultTensorType();
        if (!fileType.IsQuantized())
        {
            return Fallback(type, dimensions[0]);
        }

        long rowLength = dimensions[0];
        bool isOutput = ggufName == "output.weight";
        bool isTokenEmbedding = ggufName == "token_embd.weight";
        LlamaCppTensorNames.TryLayer(ggufName, out int layer, out string suffix);
        if (isOutput || (isTokenEmbedding && !hasOutputTensor))
        {
            if (rowLength % GgmlTypeTraits.Of(type).BlockElements != 0)
            {
                type = GgmlType.Q8_0;
            }
            else if (type != GgmlType.Q8_0)
            {
                type = GgmlType.Q6_K;
            }
        }
        else if (isTokenEmbedding)
        {
            // keeps the file's default type
        }
        else if (suffix == "attn_v.weight")
        {
            if ((fileType is GgufFileType.Q4_K_M or GgufFileType.Q5_K_M) && UseMoreBits(layer, layerCount))
            {
                type = GgmlType.Q6_K;
            }
            else if (fileType == GgufFileType.Q4_K_S && layer < 4)
            {
                type = GgmlType.Q5_K;
            }
        }
        else if (suffix == "ffn_down.weight")
        {
            if ((fileType is GgufFileType.Q4_K_M or GgufFileType.Q5_K_M) && UseMoreBits(layer, layerCount))
            {
                type = GgmlType.Q6_K;
            }
            else if (fileType == GgufFileType.Q4_K_S && layer < layerCount / 8)
            {
                type = GgmlType.Q5_K;
            }
        }

        return Fallback(type, rowLength);
    }

    private static GgmlType Fallback(GgmlType type, long rowLength)
    {
        if (rowLength % GgmlTypeTraits.Of(type).BlockElements == 0)
        {
            return type;
        }

        var fallback = type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => GgmlType.F16,
        };
        return rowLength % GgmlTypeTraits.Of(fallback).BlockElements == 0 ? fallback : GgmlType.F16;
    }
}
