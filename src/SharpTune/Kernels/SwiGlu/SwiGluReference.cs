using static TorchSharp.torch;

namespace SharpTune.Kernels.SwiGlu;

/// <summary>The Llama MLP's gate, silu(gate) * up, as Hugging Face computes it (each op rounded to the input dtype).</summary>
public static class SwiGluReference
{
    public static Tensor Forward(Tensor gate, Tensor up) => nn.functional.silu(gate) * up;
}
