using static TorchSharp.torch;

namespace SharpTune.Training;

/// <summary>
/// Ownership of tensors that a custom autograd function's backward hands to libtorch. TorchSharp's engine copies
/// the returned tensors (a new reference) after backward returns, so the managed wrappers may be disposed once the
/// call is over but not before. Each thread keeps the results of its latest backward call and disposes them at its
/// next call (calls on one thread are sequential; a nested, reentrant call starts before its caller creates its
/// results). The last ones are freed by <see cref="ReleaseCurrentThread"/> or the finalizer. Without this, grads made
/// on libtorch's device threads (which have no dispose scope) would wait for the garbage collector.
/// </summary>
public static class BackwardResults
{
    [ThreadStatic]
    private static List<Tensor>? _pending;

    /// <summary>Disposes the previous call's results on this thread. Call at the start of a backward.</summary>
    public static void BeginCall()
    {
        if (_pending is null)
        {
            return;
        }

        foreach (var tensor in _pending)
        {
            tensor.Dispose();
        }

        _pending.Clear();
    }

    /// <summary>Detaches <paramref name="result"/> from any dispose scope and keeps it until the next call; returns it.</summary>
    public static Tensor? Keep(Tensor? result)
    {
        if (result is null)
        {
            return null;
        }

        result.DetachFromDisposeScope();
        (_pending ??= []).Add(result);
        return result;
    }

    /// <summary>Disposes this thread's kept results (after <c>backward()</c> has returned).</summary>
    public static void ReleaseCurrentThread() => BeginCall();
}
