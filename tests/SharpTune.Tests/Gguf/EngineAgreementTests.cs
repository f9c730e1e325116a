using SharpTune.Gguf;
using SharpTune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Gguf;

/// <summary>
/// llama.cpp on our exports against the engine's own decoder (<see cref="CausalLM"/>, TorchSharp), which the
/// engine verifies against Hugging Face transformers: on the original weights (f32 export) and on the weights our
/// reader dequantizes from a q4_k_m export, written back as a Hugging Face directory.
/// </summary>
public sealed class EngineAgreementTests(TinyModelFixture models, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    private static float[] EngineLogits(string hfDirectory)
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var model = CausalLM.Load(hfDirectory, ScalarType.Float32, CPU);
        model.eval();
        using var noGrad = no_grad();
        var ids = tensor(TinyModelFixture.Prompt.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
        var logits = model.forward(ids);
        return logits[0, -1].data<float>().ToArray();
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("qwen2")]
    public void Llama_cpp_on_our_f32_export_agrees_with_the_engines_decoder(string architecture)
    {
        var entry = models.Get(architecture);
        var engine = EngineLogits(entry.HfDirectory);
        using var llama = new LlamaCppRunner(entry.F32Gguf);
        var comparison = LogitComparison.Of(llama.NextTokenLogits(TinyModelFixture.Prompt), engine);
        output.WriteLine($"{architecture}: llama.cpp vs CausalLM {comparison}; CausalLM vs test reference {LogitComparison.Of(engine, entry.ReferenceLogits)}");
        Assert.True(comparison.RelativeRms < 1e-4, comparison.ToString());
    }
}
