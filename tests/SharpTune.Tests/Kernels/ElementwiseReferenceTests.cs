using SharpTune.Kernels.Rope;
using SharpTune.Kernels.SwiGlu;
using static TorchSharp.torch;

namespace SharpTune.Tests.Kernels;

public sealed class ElementwiseReferenceTests
{
    [Fact]
    public void SwiGlu_is_silu_of_the_gate_times_up()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        var gate = tensor(new double[] { -2, 0, 1.5 });
        var up = tensor(new double[] { 3, 4, -1 });
        var h = SwiGluReference.Forward(gate, up).data<double>().ToArray();
        double Silu(double v) => v / (1 + Math.Exp(-v));
        Assert.Equal(new[] { Silu(-2) * 3, 0, Silu(1.5) * -1 }, h, new ToleranceComparer(1e-12));
    }

    [Fact]
    public void Rope_rotates_each_pair_of_halves_by_its_angle()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        // One head, one position, dim 4: pairs (x0, x2) and (x1, x3) rotate by angles a and b.
        double a = 0.3, b = -1.1;
        var x = tensor(new double[] { 1, 2, 3, 4 }, [1, 1, 1, 4]);
        var cos = tensor(new[] { Math.Cos(a), Math.Cos(b), Math.Cos(a), Math.Cos(b) }, [1, 1, 4]);
        var sin = tensor(new[] { Math.Sin(a), Math.Sin(b), Math.Sin(a), Math.Sin(b) }, [1, 1, 4]);
        var y = RopeReference.Forward(x, cos, sin).data<double>().ToArray();
        double[] expected =
        [
            1 * Math.Cos(a) - 3 * Math.Sin(a),
            2 * Math.Cos(b) - 4 * Math.Sin(b),
            3 * Math.Cos(a) + 1 * Math.Sin(a),
            4 * Math.Cos(b) + 2 * Math.Sin(b),
        ];
        Assert.Equal(expected, y, new ToleranceComparer(1e-12));
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
