namespace SharpTune.Gguf;

/// <summary>
/// What a whole GGUF file is quantized to (llama.cpp's <c>llama_ftype</c>; the numbers go into
/// <c>general.file_type</c>). Mixes such as <see cref="Q4_K_M"/> give some tensors more bits, see
/// <see cref="LlamaCppQuantizationPolicy"/>.
/// </summary>
public enum GgufFileType
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 7,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
    BF16 = 32,
}
