using SharpTune.Models;
using static TorchSharp.torch;

namespace SharpTune.Tests.Models;

public sealed class EmbeddingOnHostTests
{
    [Fact]
    public void A_tied_model_refuses_with_the_setting_named()
    {
        _ = TorchFixture.Runtime;
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 97, 1, [2], tieWordEmbeddings: true);
        using var model = TinyModelFactory.CreateModel(config, 3, ScalarType.Float32, CPU);
        var error = Assert.Throws<SharpTuneException>(model.KeepEmbeddingOnHost);
        Assert.StartsWith("embedding_on_host: this model's LM head shares the input embedding", error.Message);
    }

    [Fact]
    public void On_the_cpu_it_changes_nothing()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var config = TinyModelFactory.Config(ModelFamily.Llama, TinyModelSize.Tiny, 97, 1, [2], tieWordEmbeddings: false);
        using var model = TinyModelFactory.CreateModel(config, 3, ScalarType.Float32, CPU);
        var ids = tensor(new long[] { 5, 9, 1, 96 }).view(1, 4);
        var before = model.EmbedTokens(ids).data<float>().ToArray();
        model.KeepEmbeddingOnHost();
        Assert.False(model.EmbeddingOnHost);
        Assert.Equal(before, model.EmbedTokens(ids).data<float>().ToArray());
        Assert.Equal(before, model.Embed.weight!.index_select(0, ids.view(-1)).data<float>().ToArray());
    }
}
