using SharpTune.Models;
using SharpTune.Training;
using static TorchSharp.torch;

namespace SharpTune.GpuTests.Models;

/// <summary>The input embedding table in pinned host memory gives the same hidden states and logits as on the GPU.</summary>
public sealed class EmbeddingOnHostGpuTests
{
    [Fact]
    public void Logits_and_the_training_forward_are_bit_identical_with_the_table_on_the_host()
    {
        _ = CudaFixture.Runtime;
        using var scope = NewDisposeScope();
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 97, 1, [2], tieWordEmbeddings: false);
        using var model = TinyModelFactory.CreateModel(config, 3, ScalarType.BFloat16, CUDA);
        var ids = randint(0, 97, [2, 16], dtype: ScalarType.Int64, device: CUDA);
        using var noGrad = no_grad();
        var logits = model.forward(ids);
        var hidden = CheckpointedDecoder.ForwardHidden(model, ids, GradientCheckpointing.Off, 0, null);

        model.KeepEmbeddingOnHost();
        Assert.True(model.EmbeddingOnHost);
        Assert.Equal(TorchSharp.DeviceType.CPU, model.Embed.weight!.device.type);
        Assert.True(model.Embed.weight!.is_pinned());
        var hostLogits = model.forward(ids);
        var hostHidden = CheckpointedDecoder.ForwardHidden(model, ids, GradientCheckpointing.Off, 0, null);
        Assert.Equal(TorchSharp.DeviceType.CUDA, hostHidden.device.type);
        Assert.True(logits.eq(hostLogits).all().item<bool>(), "logits differ with the embedding on the host");
        Assert.True(hidden.eq(hostHidden).all().item<bool>(), "training hidden states differ with the embedding on the host");
    }
}
