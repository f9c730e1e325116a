using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace SharpTune.Models.Layers;

/// <summary>
/// RMSNorm as Hugging Face computes it: normalize in float32, cast back to the input's dtype, then scale by the
/// weight (in the model's dtype): <c>weight * (x / sqrt(mean(x^2) + eps)).to(input_dtype)</c>.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")]
    private Parameter _weight;

    public RmsNorm(long size, double eps, Device device, ScalarType dtype)
        : base(nameof(RmsNorm))
    {
        Size = size;
        Eps = eps;
        _weight = new Parameter(ones(size, dtype, device), requires_grad: false);
        RegisterComponents();
    }

    public long Size { get; }

    public double Eps { get; }

    public Parameter Weight => _weight;

    public override Tensor forward(Tensor input)
    {
        if (SharpTune.Kernels.FusedKernels.AppliesTo(input))
        {
            return SharpTune.Kernels.RmsNorm.FusedRmsNorm.Apply(input, _weight, Eps);
        }

        using var scope = NewDisposeScope();
        var x = input.to(ScalarType.Float32);
        var variance = x.pow(2).mean([-1L], keepdim: true);
        var normed = (x * rsqrt(variance + Eps)).to(input.dtype);
        return (_weight * normed).MoveToOuterDisposeScope();
    }

    internal void LoadFrom(WeightSource source, string prefix)
    {
        var loaded = source(prefix + "weight", [Size], WeightRole.NormScale);
        var old = _weight;
        _weight = loaded;
        ConditionallyRegisterParameter("weight", loaded);
        old.Dispose();
    }
}
