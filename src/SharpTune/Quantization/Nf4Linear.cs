using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Quantization;

/// <summary>
/// A frozen linear layer whose weight is stored in NF4 (see <see cref="Nf4Tensor"/>) and dequantized on the fly to
/// the input's dtype in forward and backward. The optional bias is kept in 16 bits and frozen.
/// </summary>
public sealed class Nf4Linear : nn.Module<Tensor, Tensor>
{
    private Nf4Tensor _weight;
    private Tensor? _bias;

    public Nf4Linear(Nf4Tensor weight, Tensor? bias, string name = "Nf4Linear")
        : base(name)
    {
        if (weight.Shape.Length != 2)
        {
            throw new ArgumentException($"an NF4 linear weight must be 2-D, got [{string.Join(", ", weight.Shape)}]", nameof(weight));
        }

        _weight = weight;
        _bias = bias?.detach().DetachFromDisposeScope();
        if (_bias is not null)
        {
            register_buffer("bias", _bias);
        }
    }

    /// <summary>Quantizes a plain linear layer's weight (and keeps its bias).</summary>
    public static Nf4Linear FromWeight(Tensor weight, Tensor? bias, bool doubleQuantize = true) =>
        new(Nf4Quantizer.Quantize(weight, doubleQuantize), bias?.detach().clone());

    public Nf4Tensor Weight => _weight;

    public Tensor? Bias => _bias;

    public long InFeatures => _weight.Shape[1];

    public long OutFeatures => _weight.Shape[0];

    public override Tensor forward(Tensor input) => Nf4LinearFunction.Apply(input, _weight, _bias);

    /// <summary>The weight dequantized to <paramref name="dtype"/> (a fresh tensor the caller owns).</summary>
    public Tensor DequantizedWeight(ScalarType dtype) => _weight.Dequantize(dtype);

    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking)
    {
        MoveWeight(device);
        return RefreshBias(base._to(device, dtype, non_blocking));
    }

    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool non_blocking)
    {
        MoveWeight(new Device(deviceType, deviceIndex));
        return RefreshBias(base._to(deviceType, deviceIndex, non_blocking));
    }

    protected override nn.Module _to(ScalarType dtype, bool non_blocking) => RefreshBias(base._to(dtype, non_blocking));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _weight.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// Moving a module replaces its buffers with new tensors and disposes the old ones (for example "cuda" against a
    /// bias on "cuda:0", or a dtype change): the field must follow the registered buffer.
    /// </summary>
    private nn.Module RefreshBias(nn.Module moved)
    {
        if (_bias is not null)
        {
            _bias = named_buffers(recurse: false).Single(b => b.name == "bias").buffer;
        }

        return moved;
    }

    private void MoveWeight(Device device)
    {
        if (_weight.Device.type == device.type && _weight.Device.index == device.index)
        {
            return;
        }

        var moved = _weight.To(device);
        _weight.Dispose();
        _weight = moved;
    }
}
