using SharpTune.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Tests.Training;

public sealed class CustomFunctionCallTests
{
    /// <summary>y = 3x, optionally registered with <see cref="CustomFunctionCall"/>; keeps its context for the test.</summary>
    private sealed class Triple : SingleTensorFunction<Triple>
    {
        [ThreadStatic]
        public static AutogradContext? LastContext;

        [ThreadStatic]
        public static bool RegisterContext;

        public override string Name => "TestTriple";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            LastContext = ctx;
            if (RegisterContext)
            {
                CustomFunctionCall.Register(ctx);
            }

            return ((Tensor)vars[0]) * 3;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output) => [grad_output * 3];
    }

    [Fact]
    public void TorchSharp_keeps_an_output_sized_placeholder_per_recorded_call_and_the_wrapper_frees_it()
    {
        _ = TorchFixture.Runtime;
        Assert.True(CustomFunctionCall.Supported);
        using var scope = NewDisposeScope();
        var x = randn([4, 5]).requires_grad_(true);

        // Plain apply: TorchSharp holds one empty_like(output) for the node's lifetime.
        Triple.RegisterContext = false;
        var plain = Triple.apply(x);
        Assert.Equal(1, CustomFunctionCall.PlaceholderCount(Triple.LastContext!));

        // Through the wrapper: none left, and the gradient is unchanged.
        Triple.RegisterContext = true;
        var wrapped = CustomFunctionCall.Apply(() => Triple.apply(x));
        Assert.Equal(0, CustomFunctionCall.PlaceholderCount(Triple.LastContext!));
        wrapped.sum().backward();
        Assert.Equal(3f, x.grad!.mean().item<float>(), 6);
        Assert.Equal(plain.data<float>().ToArray(), wrapped.data<float>().ToArray());
    }

    [Fact]
    public void Nested_calls_release_their_own_placeholders_and_an_exception_leaves_nothing_registered()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var x = randn([3]).requires_grad_(true);
        Triple.RegisterContext = true;
        AutogradContext? inner = null;
        var outer = CustomFunctionCall.Apply(() =>
        {
            var y = CustomFunctionCall.Apply(() => Triple.apply(x));
            inner = Triple.LastContext;
            return Triple.apply(y);
        });
        Assert.Equal(0, CustomFunctionCall.PlaceholderCount(inner!));
        Assert.Equal(0, CustomFunctionCall.PlaceholderCount(Triple.LastContext!));
        outer.sum().backward();
        Assert.Equal(9f, x.grad!.mean().item<float>(), 6);

        Assert.Throws<InvalidOperationException>(() => CustomFunctionCall.Apply(() =>
        {
            Triple.apply(x);
            throw new InvalidOperationException("forward failed");
        }));
        // The failed call's registration is gone: a later plain call is not released by a later wrapper.
        Triple.RegisterContext = false;
        var plain = Triple.apply(x);
        var plainContext = Triple.LastContext!;
        Triple.RegisterContext = true;
        _ = CustomFunctionCall.Apply(() => Triple.apply(x));
        Assert.Equal(1, CustomFunctionCall.PlaceholderCount(plainContext));
        GC.KeepAlive(plain);
    }
}
