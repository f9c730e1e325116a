namespace SharpTune.Distributed;

/// <summary>A collective that was started; <see cref="Wait"/> makes its result visible to the work queued after it.</summary>
public interface ICollectiveWork
{
    /// <summary>
    /// Orders everything PyTorch queues from now on after the collective (on a GPU the host does not block; on the
    /// CPU backend the work is already done).
    /// </summary>
    void Wait();
}
