using SharpTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Tests.Quantization;

public sealed class Nf4LinearMoveTests
{
    [Fact]
    public void The_bias_follows_the_registered_buffer_when_a_move_replaces_it()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var layer = Nf4Linear.FromWeight(randn([8, 64]), randn([8]));
        var before = layer.Bias!.data<float>().ToArray();
        layer.to(CPU);
        Assert.False(layer.Bias!.IsInvalid);
        Assert.Equal(before, layer.Bias!.data<float>().ToArray());
        // A dtype change replaces the buffer (as "cuda" does for a bias on "cuda:0"), disposing the old tensor.
        layer.to(ScalarType.Float64);
        Assert.False(layer.Bias!.IsInvalid);
        Assert.Equal(ScalarType.Float64, layer.Bias!.dtype);
        Assert.Equal(before.Select(v => (double)v), layer.Bias!.data<double>().ToArray());
        Assert.Same(layer.Bias, layer.named_buffers().Single(b => b.name == "bias").buffer);
        var y = layer.forward(randn([3, 64]));
        Assert.Equal([3L, 8L], y.shape);
    }
}
