using TorchSharp;

namespace SharpTune.Distributed;

/// <summary>
/// Bucketed gradient all-reduce over a fixed parameter list. Mark each parameter ready once its gradient is final
/// (for overlap, as soon as the backward pass has produced it: a bucket's all-reduce starts the moment its last
/// parameter is marked, while the backward pass goes on); then <see cref="Finish"/> starts what is left, waits,
/// and writes the averaged gradients back. The same reducer serves every step.
/// </summary>
public interface IGradientReducer : IDisposable
{
    void MarkReady(int parameterIndex);

    void MarkReady(torch.Tensor parameter);

    /// <summary>Reduces every bucket not yet started and writes the results into the parameters' gradients.</summary>
    void Finish();
}
