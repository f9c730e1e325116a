using SharpTune.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Quantization;

/// <summary>
/// y = x W^T + b with W stored as NF4. Forward dequantizes W into the input's dtype, multiplies and frees it; backward
/// dequantizes again for grad_x = grad_y W. W is frozen (no gradient) and only the NF4 tensor is kept for backward,
/// so at most one layer's 16-bit weight exists at a time. The bias, when present, is frozen too.
/// Arguments of <c>apply</c>: input, <see cref="Nf4Tensor"/>, bias (or null).
/// </summary>
public sealed class Nf4LinearFunction : SingleTensorFunction<Nf4LinearFunction>
{
    private const string WeightKey = "nf4";

    public override string Name => "Nf4Linear";

    public static Tensor Apply(Tensor input, Nf4Tensor weight, Tensor? bias) => CustomFunctionCall.Apply(() => apply(input, weight, bias!));

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var weight = (Nf4Tensor)vars[1];
        var bias = vars.Length > 2 ? vars[2] as Tensor : null;
        CustomFunctionCall.Register(ctx);
        ctx.save_data(WeightKey, weight);
        using var w = DequantizedWeightCache.ForForward(weight, input.dtype);
        return nn.functional.linear(input, w, bias?.to(input.dtype));
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        BackwardResults.BeginCall();
        // Gradients are not materialized (CustomFunctionCall): none reached the output, so none flows back.
        if (grad_output.IsInvalid)
        {
            return [null!, null!, null!];
        }

        var weight = (Nf4Tensor)ctx.get_data(WeightKey);
        Tensor gradInput;
        using (var scope = NewDisposeScope())
        {
            using var w = DequantizedWeightCache.ForBackward(weight, grad_output.dtype);
            gradInput = matmul(grad_output, w).MoveToOuterDisposeScope();
        }

        grad_output.Dispose();
        return [BackwardResults.Keep(gradInput)!, null!, null!];
    }
}
