using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// The reference <see cref="HostActivationCopy"/>: plain TorchSharp copies to a CPU tensor and back, each complete
/// when it returns (on the CPU, or any device without <see cref="CudaHostActivationCopy"/>'s side stream).
/// </summary>
public sealed class SynchronousHostActivationCopy(Device device) : HostActivationCopy
{
    public override HostActivation Send(Tensor tensor)
    {
        var host = empty(tensor.shape, tensor.dtype, CPU).DetachFromDisposeScope();
        host.copy_(tensor);
        return new Stored(tensor.shape, tensor.dtype, tensor.ElementSize, host);
    }

    public override void Fetch(HostActivation activation)
    {
    }

    public override Tensor Receive(HostActivation activation)
    {
        var stored = (Stored)activation;
        var host = stored.Take();
        var back = empty(stored.Shape, stored.Dtype, device);
        back.copy_(host);
        host.Dispose();
        return back;
    }

    public override void Discard(HostActivation activation) => ((Stored)activation).Take().Dispose();

    public override void Finish()
    {
    }

    private sealed class Stored(long[] shape, ScalarType dtype, long elementSize, Tensor host) : HostActivation(shape, dtype, elementSize)
    {
        private Tensor? _host = host;

        public Tensor Take()
        {
            var host = _host ?? throw new InvalidOperationException("this offloaded activation was already received or discarded");
            _host = null;
            return host;
        }
    }
}
