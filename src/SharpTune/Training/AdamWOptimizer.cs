using SharpTune.Kernels.AdamW;
using SharpTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) over named parameters, the update of PyTorch's <c>torch.optim.AdamW</c>:
/// decoupled weight decay <c>p *= 1 - lr * wd</c>, bias-corrected moments, <c>p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)</c>.
/// With <see cref="OptimizerKind.AdamW8Bit"/> the moments of tensors with at least <see cref="MinimumElementsFor8Bit"/>
/// elements are kept as 8-bit dynamic codes per block of 256 (m signed, v unsigned), dequantized for each update and
/// requantized after it, as bitsandbytes' block-wise 8-bit optimizers do; smaller tensors keep float32 moments.
/// Moments are kept on each parameter's device. The state is exported and imported by name for checkpoints.
/// </summary>
public sealed class AdamWOptimizer : IDisposable
{
    /// <summary>bitsandbytes' <c>min_8bit_size</c>: smaller tensors keep 32-bit state.</summary>
    public const int MinimumElementsFor8Bit = 4096;

    private readonly IReadOnlyList<(string Name, Tensor Parameter)> _parameters;
    private readonly Dictionary<string, IMoment> _first = [];
    private readonly Dictionary<string, IMoment> _second = [];
    private readonly MultiTensorAdamW _multiTensor = new();

    public AdamWOptimizer(IEnumerable<(string Name, Tensor Parameter)> parameters, OptimizerKind kind, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, double weightDecay = 0.01)
    {
        _parameters = parameters.ToArray();
        Kind = kind;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        foreach (var (name, parameter) in _parameters)
        {
            bool quantized = kind == OptimizerKind.AdamW8Bit && parameter.NumberOfElements >= MinimumElementsFor8Bit;
            _first[name] = quantized ? new QuantizedMoment(parameter, signed: true) : new FullMoment(parameter);
            _second[name] = quantized ? new QuantizedMoment(parameter, signed: false) : new FullMoment(parameter);
        }
    }

    public OptimizerKind Kind { get; }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Epsilon { get; }

    public double WeightDecay { get; }

    /// <summary>Updates taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Bytes of optimizer state (moments and their scales).</summary>
    public long StateBytes => _first.Values.Concat(_second.Values).Sum(m => m.Bytes);

    /// <summary>Steps done so far by the multi-tensor kernels (<see cref="MultiTensorAdamW"/>), every parameter in one launch per group.</summary>
    public long MultiTensorSteps { get; private set; }

    /// <summary>Table uploads of the multi-tensor path so far (again only when a parameter, moment or gradient address changes).</summary>
    public int MultiTensorTableUploads => _multiTensor.TableUploads;

    /// <summary>Parameter updates done so far by a fused kernel launch (one per parameter, or one multi-tensor launch) (<see cref="FusedAdamW"/>); the rest ran <see cref="AdamWReference"/>.</summary>
    public long FusedUpdates { get; private set; }

    /// <summary>
    /// One update of every parameter that has a gradient, with learning rate <paramref name="learningRate"/>: one
    /// <see cref="MultiTensorAdamW"/> launch per kind of tensor where every parameter can take it, else one
    /// <see cref="FusedAdamW"/> kernel per parameter where it applies, else <see cref="AdamWReference"/> on the moments
    /// as float32 (8-bit moments dequantized before and requantized after).
    /// </summary>
    public void Step(double learningRate) => Step(learningRate, gradientScale: null, zeroGradients: false);

    /// <summary>
    /// <see cref="Step(double)"/> with every gradient multiplied by <paramref name="gradientScale"/> (a float32 scalar on
    /// the gradients' device, e.g. the pending clip factor of <see cref="GradientClipping.ClipByGlobalNormOnDevice(IEnumerable{Tensor}, double, out Tensor?)"/>)
    /// when given, and the gradients cleared after the update when <paramref name="zeroGradients"/> (as
    /// <see cref="ZeroGrad"/> would). The multi-tensor kernel reads the scale on the device and zeroes each gradient as
    /// it reads it; the per-tensor paths scale the gradients in place first and zero them after.
    /// </summary>
    public void Step(double learningRate, Tensor? gradientScale, bool zeroGradients)
    {
        StepCount++;
        var step = AdamWStep.At(StepCount, learningRate, Beta1, Beta2, Epsilon, WeightDecay);
        using var noGrad = no_grad();
        // Each read of .grad makes a new managed handle: the scope disposes them.
        using var scope = NewDisposeScope();
        var pending = new List<(string Name, Tensor Parameter, Tensor Gradient)>(_parameters.Count);
        foreach (var (name, parameter) in _parameters)
        {
            if (parameter.grad is { } grad)
            {
                pending.Add((name, parameter, grad));
            }
        }

        var updates = pending.Select(p => MultiTensorUpdate(p.Name, p.Parameter, p.Gradient)).OfType<MultiTensorAdamWUpdate>().ToArray();
        if (updates.Length == pending.Count && _multiTensor.TryUpdate(updates, step, gradientScale, zeroGradients))
        {
            FusedUpdates += updates.Length;
            MultiTensorSteps++;
            return;
        }

        if (gradientScale is not null)
        {
            GradientClipping.MultiplyInPlace(pending.Select(p => p.Gradient), gradientScale);
        }

        foreach (var (name, parameter, grad) in pending)
        {
            using var parameterScope = NewDisposeScope();

            bool fused = (_first[name], _second[name]) switch
            {
                (FullMoment m, FullMoment v) => FusedAdamW.TryUpdate(parameter, grad, m.Value, v.Value, step),
                (QuantizedMoment m, QuantizedMoment v) => FusedAdamW.TryUpdate(parameter, grad, m.Value, v.Value, step),
                _ => false,
            };
            if (fused)
            {
                FusedUpdates++;
            }
            else
            {
                var first = _first[name].Read();
                var second = _second[name].Read();
                AdamWReference.Update(parameter, grad, first, second, step);
                _first[name].Write(first);
                _second[name].Write(second);
            }

            if (zeroGradients)
            {
                grad.zero_();
            }
        }
    }

    /// <summary>The parameter's update for <see cref="MultiTensorAdamW"/>, or null for moments it does not take.</summary>
    private MultiTensorAdamWUpdate? MultiTensorUpdate(string name, Tensor parameter, Tensor gradient) => (_first[name], _second[name]) switch
    {
        (FullMoment m, FullMoment v) => MultiTensorAdamWUpdate.Full(parameter, gradient, m.Value, v.Value),
        (QuantizedMoment m, QuantizedMoment v) => MultiTensorAdamWUpdate.Quantized(parameter, gradient, m.Value, v.Value),
        _ => null,
    };

    /// <summary>Clears the gradients.</summary>
    public void ZeroGrad()
    {
        // Each read of .grad, and each in-place op, makes a new managed handle: the scope disposes them.
        using var scope = NewDisposeScope();
        foreach (var (_, parameter) in _parameters)
        {
            parameter.grad?.zero_();
        }
    }

    /// <summary>The state as named tensors (copies on the CPU): moments per parameter and the step count.</summary>
    public Dictionary<string, Tensor> ExportState()
    {
        var state = new Dictionary<string, Tensor> { ["step"] = tensor(new[] { StepCount }) };
        foreach (var (name, _) in _parameters)
        {
            _first[name].Export(state, name + ".exp_avg");
            _second[name].Export(state, name + ".exp_avg_sq");
        }

        return state;
    }

    /// <summary>Restores <see cref="ExportState"/>'s tensors; every parameter's state must be present.</summary>
    public void ImportState(IReadOnlyDictionary<string, Tensor> state)
    {
        StepCount = state.TryGetValue("step", out var step) ? step.item<long>() : throw new SharpTuneException("optimizer state has no 'step'");
        foreach (var (name, _) in _parameters)
        {
            _first[name].Import(state, name + ".exp_avg");
            _second[name].Import(state, name + ".exp_avg_sq");
        }
    }

    public void Dispose()
    {
        _multiTensor.Dispose();
        foreach (var moment in _first.Values.Concat(_second.Values))
        {
            moment.Dispose();
        }
    }

    private interface IMoment : IDisposable
    {
        long Bytes { get; }

        /// <summary>The moment as a float32 tensor to update in place (owned by the caller's scope).</summary>
        Tensor Read();

        void Write(Tensor updated);

        void Export(Dictionary<string, Tensor> state, string key);

        void Import(IReadOnlyDictionary<string, Tensor> state, string key);
    }

    private sealed class FullMoment(Tensor parameter) : IMoment
    {
        private readonly Tensor _value = zeros_like(parameter, dtype: ScalarType.Float32).DetachFromDisposeScope();

        /// <summary>The float32 moment itself (the fused kernel updates it in place).</summary>
        public Tensor Value => _value;

        public long Bytes => _value.NumberOfElements * 4;

        public Tensor Read() => _value.alias();

        public void Write(Tensor updated)
        {
            // Read returned an alias: the update already happened in place.
        }

        public void Export(Dictionary<string, Tensor> state, string key) => state[key] = _value.cpu().clone();

        public void Import(IReadOnlyDictionary<string, Tensor> state, string key)
        {
            using var noGrad = no_grad();
            _value.copy_(Required(state, key));
        }

        public void Dispose() => _value.Dispose();
    }

    private sealed class QuantizedMoment : IMoment
    {
        private readonly BlockwiseQuantized _value;

        public QuantizedMoment(Tensor parameter, bool signed)
        {
            using var scope = NewDisposeScope();
            _value = BlockwiseQuantized.Quantize(zeros_like(parameter, dtype: ScalarType.Float32),
                signed ? DynamicQuantizationMap.Signed : DynamicQuantizationMap.Unsigned);
        }

        /// <summary>The codes and absmax (the fused kernel updates them in place).</summary>
        public BlockwiseQuantized Value => _value;

        public long Bytes => _value.Codes.NumberOfElements + _value.Absmax.NumberOfElements * 4;

        public Tensor Read() => _value.Dequantize();

        public void Write(Tensor updated) => _value.Update(updated);

        public void Export(Dictionary<string, Tensor> state, string key)
        {
            state[key + ".codes"] = _value.Codes.cpu().clone();
            state[key + ".absmax"] = _value.Absmax.cpu().clone();
        }

        public void Import(IReadOnlyDictionary<string, Tensor> state, string key)
        {
            _value.Codes.copy_(Required(state, key + ".codes"));
            _value.Absmax.copy_(Required(state, key + ".absmax"));
        }

        public void Dispose() => _value.Dispose();
    }

    private static Tensor Required(IReadOnlyDictionary<string, Tensor> state, string key) =>
        state.TryGetValue(key, out var value) ? value : throw new SharpTuneException($"optimizer state has no '{key}'");
}
