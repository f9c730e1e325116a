namespace SharpTune.Models;

/// <summary>Sizes of models made by <see cref="TinyModelFactory"/>.</summary>
public enum TinyModelSize
{
    /// <summary>hidden 64, 2 layers, 4 heads, 2 KV heads: fast on a CPU (parameters mostly in the embedding).</summary>
    Tiny,

    /// <summary>hidden 256, 4 layers, 8 heads, 4 KV heads: about 20-50M parameters with a real vocabulary.</summary>
    Small,
}
