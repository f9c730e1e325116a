using SharpTune.Kernels;
using SharpTune.Kernels.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// <see cref="HostActivationCopy"/> on a CUDA device: copies run on a <see cref="CudaCopyStream"/>, between the
/// device and reused <see cref="PinnedHostMemory"/> buffers, while the compute stream goes on.
/// <para>
/// Order with the compute stream (and with PyTorch's caching allocator, which hands a freed block to the next
/// allocation in the compute stream's order): a copy out waits for the compute queued before it (the tensor's value
/// exists), and the sent tensor is held until the copy has finished, or until the compute stream has been made to wait
/// for it when more than <c>maxSendingBytes</c> are in flight (so the forward pass cannot outrun the copies by more
/// than that much device memory). A copy back goes into a tensor allocated on the compute stream's order and waits
/// for the compute queued before it (the block's previous user is done); the compute stream waits for the copy in
/// <see cref="Receive"/>. Host buffers (<see cref="PinnedBufferPool"/>) are used only by this stream's copies, in its
/// order, so a buffer goes back to the pool as soon as its copy back is queued.
/// </para>
/// </summary>
public sealed class CudaHostActivationCopy : HostActivationCopy
{
    /// <summary>Device memory that sent tensors may hold while their copies run, by default.</summary>
    public const long DefaultMaxSendingBytes = 256L << 20;

    private readonly Device _device;
    private readonly CudaCopyStream _stream;
    private readonly long _maxSendingBytes;
    private readonly PinnedBufferPool _pool;
    private readonly Queue<(Tensor Source, CudaEvent Copied, long Bytes)> _sending = new();
    private readonly Lock _lock = new();
    private long _sendingBytes;

    public CudaHostActivationCopy(Device device, long maxSendingBytes = DefaultMaxSendingBytes)
    {
        if (device.type != DeviceType.CUDA)
        {
            throw new ArgumentException($"CUDA host copies need a CUDA device, not {device}", nameof(device));
        }

        _device = device;
        _stream = new CudaCopyStream(device.index < 0 ? 0 : device.index);
        _pool = new PinnedBufferPool(_stream);
        _maxSendingBytes = maxSendingBytes;
    }

    /// <summary>Pinned host memory this copier holds (buffers are reused from one micro-batch to the next, <see cref="PinnedBufferPool"/>).</summary>
    public long PinnedBytes
    {
        get
        {
            lock (_lock)
            {
                return _pool.PinnedBytes;
            }
        }
    }

    public override HostActivation Send(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CUDA || !tensor.is_contiguous())
        {
            throw new ArgumentException("only contiguous CUDA tensors are sent to host memory", nameof(tensor));
        }

        lock (_lock)
        {
            var sent = new Stored(tensor.shape, tensor.dtype, tensor.ElementSize, _pool.Rent(tensor.NumberOfElements * tensor.ElementSize));
            _stream.WaitForCompute();
            _stream.CopyToHost(sent.Host, TensorPointer.Of(tensor), sent.Bytes);
            _sending.Enqueue((tensor.alias().DetachFromDisposeScope(), _stream.Record(), sent.Bytes));
            _sendingBytes += sent.Bytes;
            ReleaseSent();
            return sent;
        }
    }

    public override void Fetch(HostActivation activation)
    {
        var stored = (Stored)activation;
        lock (_lock)
        {
            stored.ThrowIfDone();
            if (stored.Device is not null)
            {
                return;
            }

            var device = empty(stored.Shape, stored.Dtype, _device).DetachFromDisposeScope();
            _stream.WaitForCompute();
            _stream.CopyToDevice(TensorPointer.Of(device), stored.Host, stored.Bytes);
            stored.Device = device;
            stored.Copied = _stream.Record();
            ReleaseSent();
        }
    }

    public override Tensor Receive(HostActivation activation)
    {
        Fetch(activation);
        var stored = (Stored)activation;
        lock (_lock)
        {
            var device = Settle(stored)!;
            var received = device.alias();
            device.Dispose();
            return received;
        }
    }

    public override void Discard(HostActivation activation)
    {
        var stored = (Stored)activation;
        lock (_lock)
        {
            Settle(stored)?.Dispose();
        }
    }

    public override void Finish()
    {
        lock (_lock)
        {
            _stream.Synchronize();
            ReleaseSent();
        }
    }

    public override void ReleaseFinished()
    {
        lock (_lock)
        {
            ReleaseSent();
        }
    }

    public override void ReleaseIdleMemory()
    {
        lock (_lock)
        {
            Finish();
            _pool.FreeIdle();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Finish();
            _pool.Dispose();
            _stream.Dispose();
        }
    }

    /// <summary>
    /// Marks <paramref name="stored"/> received or discarded and gives its host buffer back; returns its device tensor
    /// (the caller's now) with the compute stream made to wait for the copy back, or null if it was never fetched.
    /// </summary>
    private Tensor? Settle(Stored stored)
    {
        stored.MarkDone();
        _pool.Return(stored.Host);
        if (stored.Device is not { } device)
        {
            return null;
        }

        // The copy back may still be writing the tensor: whatever uses its block next comes after the copy.
        _stream.MakeComputeWait(stored.Copied!);
        stored.Copied!.Dispose();
        (stored.Device, stored.Copied) = (null, null);
        return device;
    }

    /// <summary>Frees the sent tensors whose copies have finished; past the in-flight limit, orders the oldest ones instead.</summary>
    private void ReleaseSent()
    {
        while (_sending.TryPeek(out var oldest))
        {
            if (!oldest.Copied.IsComplete)
            {
                if (_sendingBytes <= _maxSendingBytes)
                {
                    return;
                }

                // The compute stream waits for this copy before any later work, so the block is safe to reuse.
                _stream.MakeComputeWait(oldest.Copied);
            }

            _sending.Dequeue();
            _sendingBytes -= oldest.Bytes;
            oldest.Source.Dispose();
            oldest.Copied.Dispose();
        }
    }

    private sealed class Stored(long[] shape, ScalarType dtype, long elementSize, PinnedHostMemory host) : HostActivation(shape, dtype, elementSize)
    {
        private bool _done;

        public PinnedHostMemory Host { get; } = host;

        /// <summary>The device tensor the copy back writes, once <see cref="Fetch"/> has queued it.</summary>
        public Tensor? Device { get; set; }

        /// <summary>Completes when the copy back has.</summary>
        public CudaEvent? Copied { get; set; }

        public void ThrowIfDone()
        {
            if (_done)
            {
                throw new InvalidOperationException("this offloaded activation was already received or discarded");
            }
        }

        /// <summary>Marks it received or discarded; either happens once.</summary>
        public void MarkDone()
        {
            ThrowIfDone();
            _done = true;
        }
    }
}
